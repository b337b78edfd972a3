#pragma once
// The ranks of an MPI job, for the commands that spread their work over several processes (spikesim compare:
// its cells; spikesim account: its chunks of tokens). One API, whatever the build: with Open MPI
// (SPIKESIM_HAVE_MPI=1, CMake found MPI) and launched by an MPI launcher (mpirun, mpiexec, srun), the calls
// below talk to the other ranks; otherwise — a build without MPI, or a plain `spikesim ...` — there is one
// rank (rank 0 of 1) and every call is a local no-op or loop, so callers have no #if and no second path.
//
// MPI is initialised only when the environment shows a launcher (OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_RANK or
// PMI_SIZE set) or SPIKESIM_MPI=1, so a plain run never touches MPI.
//
// Functions marked "collective" must be called by every rank, in the same order. Ranks that reach a
// collective early wait by polling with short sleeps instead of spinning a core (ranks often share a node's
// cores with the OpenMP threads of the others).

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/error.hpp"

namespace spikesim::dist {

// True when spikesim was built with MPI (whether or not this process was launched by mpirun).
bool built_with_mpi();

// In main(): initialises MPI (threads: at least MPI_THREAD_SERIALIZED) when launched by an MPI launcher, and
// finalises it at exit. Without one, or without MPI, it does nothing. At most one per process.
class Session {
 public:
  Session(int& argc, char**& argv);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  Session(Session&&) = delete;
  Session& operator=(Session&&) = delete;
};

int rank();        // this process, 0 .. size() - 1; 0 without MPI
int size();        // ranks in the job; 1 without MPI
int local_size();  // ranks on this host (sharing its cores); 1 without MPI

// What a rank throws when another rank failed: it stops, and its own work so far is kept.
class PeerFailed : public UserError {
 public:
  explicit PeerFailed(int failed_rank);
  [[nodiscard]] int failed_rank() const { return failed_rank_; }

 private:
  int failed_rank_;
};

// Collective: the lowest rank whose `failed` is true, or -1 when no rank failed.
int first_failed_rank(bool failed);

// Collective: runs f on every rank. When it throws on any rank, every rank throws: a rank on which f threw
// rethrows its own exception, every other rank PeerFailed naming the lowest failing rank. So one rank's bad
// input (or a lock that rank 0 could not take) stops every rank instead of leaving them waiting.
template <class F>
void all_or_none(F&& f) {
  std::exception_ptr error;
  try {
    f();
  } catch (...) {
    error = std::current_exception();
  }
  const int failed = first_failed_rank(error != nullptr);
  if (error) std::rethrow_exception(error);
  if (failed >= 0) throw PeerFailed(failed);
}

// Rethrows `error` with "<where>: " in front of its message, keeping its kind (InternalError, OutputError,
// UsageError, UserError; other exceptions become std::runtime_error; bad_alloc stays as it is). For the error
// of one rank's task: "cell <id>", "chunk 3 (tokens 768..1023)".
[[noreturn]] void rethrow_in(const std::exception_ptr& error, const std::string& where);

// Collective: waits for every rank.
void barrier();

// Collective: the sum of `value` over the ranks, on every rank.
std::uint64_t sum(std::uint64_t value);

// Collective: every rank passes the same number of words; rank 0 gets every rank's words, rank after rank
// (size() x words.size()); the other ranks get an empty vector.
std::vector<std::uint64_t> gather(std::span<const std::uint64_t> words);

// Dynamic assignment of tasks 0 .. tasks-1 over the ranks: each task is handed to exactly one rank, in
// increasing order, to whichever rank asks next, so slow tasks do not idle the others. Rank 0 works on tasks
// too; while it does, a helper thread of rank 0 serves the other ranks' requests (MPI point-to-point, polled
// every millisecond). With one rank it is a plain counter.
//
//   TaskQueue queue(n, on_done);                      // collective
//   while (auto t = queue.next()) { try { work(*t); } catch (...) { queue.fail(); break; } }
//   const int failed = queue.finish();                // collective: lowest failed rank or -1
class TaskQueue {
 public:
  // on_done(task, rank) runs on rank 0 (one call at a time, from any thread) each time a rank reports a task
  // finished (a rank reports its previous task when it asks for the next one).
  using OnDone = std::function<void(std::uint64_t task, int rank)>;
  explicit TaskQueue(std::uint64_t tasks, OnDone on_done = {});
  ~TaskQueue();
  TaskQueue(const TaskQueue&) = delete;
  TaskQueue& operator=(const TaskQueue&) = delete;
  TaskQueue(TaskQueue&&) = delete;
  TaskQueue& operator=(TaskQueue&&) = delete;

  // The next task of this rank (the previous one counts as done), or nullopt when every task has been handed
  // out or a rank failed.
  std::optional<std::uint64_t> next();
  // This rank failed on its current task: from now on no rank gets a new task (the ranks finish the task
  // they are on). Call it instead of next(), then finish().
  void fail();
  // Collective, once next() returned nullopt or after fail(): waits for every rank and returns the lowest
  // rank that failed, or -1.
  int finish();

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace spikesim::dist
