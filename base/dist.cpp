#include "base/dist.hpp"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string_view>

#include "base/text.hpp"

#if SPIKESIM_HAVE_MPI
#include <mpi.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <thread>
#endif

namespace spikesim::dist {

namespace {

struct World {
  int rank = 0;
  int size = 1;
  int local_size = 1;
  bool initialised = false;  // MPI_Init_thread was called by Session
#if SPIKESIM_HAVE_MPI
  MPI_Comm comm = MPI_COMM_NULL;  // spikesim's own duplicate of MPI_COMM_WORLD
#endif
};

World& world() {
  static World w;
  return w;
}

#if SPIKESIM_HAVE_MPI

// Launched by mpirun / mpiexec (Open MPI, MPICH's Hydra) or srun (PMI-2, PMIx), or asked for explicitly.
bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"}) {
    if (std::getenv(v) != nullptr) return true;  // NOLINT(concurrency-mt-unsafe): before any thread starts
  }
  const char* force = std::getenv("SPIKESIM_MPI");  // NOLINT(concurrency-mt-unsafe)
  return force != nullptr && std::string_view(force) == "1";
}

// Waits for a non-blocking operation: a short spin, then polls with sleeps so a rank that waits for the
// others leaves its core to them.
void wait_polling(MPI_Request& request) {
  for (int i = 0;; ++i) {
    int done = 0;
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done != 0) return;
    if (i >= 64) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

constexpr int tag_request = 1;  // rank -> 0: {finished task or -1, failed 0/1}
constexpr int tag_reply = 2;    // 0 -> rank: the next task, or `tasks` for "none left"

#endif

}  // namespace

bool built_with_mpi() {
  return SPIKESIM_HAVE_MPI != 0;
}

Session::Session([[maybe_unused]] int& argc, [[maybe_unused]] char**& argv) {
#if SPIKESIM_HAVE_MPI
  World& w = world();
  if (w.initialised || !launched_by_mpi()) return;
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  w.initialised = true;
  if (provided < MPI_THREAD_SERIALIZED) {
    std::fputs(
        "spikesim: error: the MPI library gives no MPI_THREAD_SERIALIZED support (needed by rank 0's "
        "task server)\n",
        stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Comm_dup(MPI_COMM_WORLD, &w.comm);
  MPI_Comm_rank(w.comm, &w.rank);
  MPI_Comm_size(w.comm, &w.size);
  MPI_Comm local = MPI_COMM_NULL;
  MPI_Comm_split_type(w.comm, MPI_COMM_TYPE_SHARED, w.rank, MPI_INFO_NULL, &local);
  MPI_Comm_size(local, &w.local_size);
  MPI_Comm_free(&local);
#endif
}

Session::~Session() {
#if SPIKESIM_HAVE_MPI
  World& w = world();
  if (!w.initialised) return;
  MPI_Comm_free(&w.comm);
  MPI_Finalize();
  w = World{};
#endif
}

int rank() {
  return world().rank;
}
int size() {
  return world().size;
}
int local_size() {
  return world().local_size;
}

PeerFailed::PeerFailed(int failed_rank)
    : UserError(cat("stopped because rank ", failed_rank, " failed (its error is printed with its rank)")),
      failed_rank_(failed_rank) {}

void rethrow_in(const std::exception_ptr& error, const std::string& where) {
  const std::string head = where + ": ";
  try {
    std::rethrow_exception(error);
  } catch (const InternalError& e) {
    throw InternalError(head + e.what());
  } catch (const OutputError& e) {
    throw OutputError(head + e.what());
  } catch (const UsageError& e) {
    throw UsageError(head + e.what());
  } catch (const UserError& e) {
    throw UserError(head + e.what());
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    throw std::runtime_error(head + e.what());
  }
}

int first_failed_rank(bool failed) {
#if SPIKESIM_HAVE_MPI
  if (size() > 1) {
    const int mine = failed ? rank() : INT_MAX;
    int lowest = INT_MAX;
    MPI_Request request = MPI_REQUEST_NULL;
    MPI_Iallreduce(&mine, &lowest, 1, MPI_INT, MPI_MIN, world().comm, &request);
    wait_polling(request);
    return lowest == INT_MAX ? -1 : lowest;
  }
#endif
  return failed ? 0 : -1;
}

void barrier() {
#if SPIKESIM_HAVE_MPI
  if (size() > 1) {
    MPI_Request request = MPI_REQUEST_NULL;
    MPI_Ibarrier(world().comm, &request);
    wait_polling(request);
  }
#endif
}

std::uint64_t sum(std::uint64_t value) {
#if SPIKESIM_HAVE_MPI
  if (size() > 1) {
    std::uint64_t total = 0;
    MPI_Request request = MPI_REQUEST_NULL;
    MPI_Iallreduce(&value, &total, 1, MPI_UINT64_T, MPI_SUM, world().comm, &request);
    wait_polling(request);
    return total;
  }
#endif
  return value;
}

std::vector<std::uint64_t> gather(std::span<const std::uint64_t> words) {
#if SPIKESIM_HAVE_MPI
  if (size() > 1) {
    if (words.size() > static_cast<std::size_t>(INT_MAX))
      throw InternalError(cat("dist::gather: ", words.size(), " words exceed an MPI count"));
    const int count = static_cast<int>(words.size());
    std::vector<std::uint64_t> all;
    if (rank() == 0) all.resize(words.size() * static_cast<std::size_t>(size()));
    MPI_Request request = MPI_REQUEST_NULL;
    MPI_Igather(words.data(), count, MPI_UINT64_T, all.data(), count, MPI_UINT64_T, 0, world().comm,
                &request);
    wait_polling(request);
    return all;
  }
#endif
  return {words.begin(), words.end()};
}

struct TaskQueue::State {
  std::uint64_t tasks = 0;
  OnDone on_done;
  std::mutex done_mutex;                 // on_done one call at a time
  std::atomic<std::uint64_t> next{0};    // rank 0: the next task to hand out
  std::atomic<bool> stop{false};         // rank 0: a rank failed, hand out nothing more
  std::optional<std::uint64_t> current;  // the task this rank is on
  bool failed = false;                   // this rank failed
  bool finished = false;                 // finish() was called
  bool drained = false;                  // another rank: rank 0 said that no task is left
#if SPIKESIM_HAVE_MPI
  MPI_Comm comm = MPI_COMM_NULL;  // the queue's own communicator (no tag clash with anything else)
  std::thread server;             // rank 0: answers the other ranks' requests
#endif

  void done(std::uint64_t task, int by) {
    if (!on_done) return;
    const std::lock_guard<std::mutex> lock(done_mutex);
    on_done(task, by);
  }
  // Rank 0: the task for the next request, or `tasks` when none is left.
  std::uint64_t take() {
    if (stop.load()) return tasks;
    const std::uint64_t t = next.fetch_add(1);
    return t < tasks ? t : tasks;
  }

#if SPIKESIM_HAVE_MPI
  // Rank 0's server thread: one request per task (plus one last "none left" per rank), until every other rank
  // has been told that none is left. Polls every millisecond: it must not take a core from rank 0's work.
  void serve() {
    int active = size() - 1;
    while (active > 0) {
      int flag = 0;
      MPI_Status status{};
      MPI_Iprobe(MPI_ANY_SOURCE, tag_request, comm, &flag, &status);
      if (flag == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      std::int64_t message[2] = {-1, 0};
      MPI_Recv(message, 2, MPI_INT64_T, status.MPI_SOURCE, tag_request, comm, MPI_STATUS_IGNORE);
      if (message[1] != 0) stop.store(true);
      if (message[0] >= 0) done(static_cast<std::uint64_t>(message[0]), status.MPI_SOURCE);
      const std::uint64_t reply = take();
      if (reply >= tasks) --active;
      MPI_Send(&reply, 1, MPI_UINT64_T, status.MPI_SOURCE, tag_reply, comm);
    }
  }
  // Another rank: sends {finished task, failed} to rank 0 and waits for its answer.
  std::uint64_t ask(std::int64_t finished_task, bool has_failed) {
    const std::int64_t message[2] = {finished_task, has_failed ? 1 : 0};
    MPI_Send(message, 2, MPI_INT64_T, 0, tag_request, comm);
    std::uint64_t reply = 0;
    MPI_Request request = MPI_REQUEST_NULL;
    MPI_Irecv(&reply, 1, MPI_UINT64_T, 0, tag_reply, comm, &request);
    wait_polling(request);
    return reply;
  }
#endif
};

TaskQueue::TaskQueue(std::uint64_t tasks, OnDone on_done) : state_(std::make_unique<State>()) {
  state_->tasks = tasks;
  state_->on_done = std::move(on_done);
#if SPIKESIM_HAVE_MPI
  if (size() > 1) {
    MPI_Comm_dup(world().comm, &state_->comm);
    if (rank() == 0) state_->server = std::thread([s = state_.get()] { s->serve(); });
  }
#endif
}

TaskQueue::~TaskQueue() {
#if SPIKESIM_HAVE_MPI
  if (state_->comm != MPI_COMM_NULL) {
    // Left without finish(): the other ranks would wait for this one forever.
    std::fputs("spikesim: internal error: a task queue was left without finish(); stopping every rank\n",
               stderr);
    MPI_Abort(world().comm, 1);
  }
#endif
}

std::optional<std::uint64_t> TaskQueue::next() {
  State& s = *state_;
  if (s.failed || s.finished) return std::nullopt;
#if SPIKESIM_HAVE_MPI
  if (size() > 1 && rank() != 0) {
    if (s.drained) return std::nullopt;
    const std::uint64_t t = s.ask(s.current ? static_cast<std::int64_t>(*s.current) : -1, false);
    s.current.reset();
    if (t >= s.tasks) {
      s.drained = true;
      return std::nullopt;
    }
    s.current = t;
    return t;
  }
#endif
  if (s.current) s.done(*s.current, rank());
  s.current.reset();
  const std::uint64_t t = s.take();
  if (t >= s.tasks) return std::nullopt;
  s.current = t;
  return t;
}

void TaskQueue::fail() {
  State& s = *state_;
  if (s.failed) return;
  s.failed = true;
  s.current.reset();
  s.stop.store(true);
#if SPIKESIM_HAVE_MPI
  if (size() > 1 && rank() != 0 && !s.drained) {
    (void)s.ask(-1, true);
    s.drained = true;
  }
#endif
}

int TaskQueue::finish() {
  State& s = *state_;
  if (s.finished) throw InternalError("dist::TaskQueue::finish() called twice");
#if SPIKESIM_HAVE_MPI
  if (s.server.joinable()) s.server.join();
#endif
  s.finished = true;
  const int failed = first_failed_rank(s.failed);
#if SPIKESIM_HAVE_MPI
  if (s.comm != MPI_COMM_NULL) MPI_Comm_free(&s.comm);
#endif
  return failed;
}

}  // namespace spikesim::dist
