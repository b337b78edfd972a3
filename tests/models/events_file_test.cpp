#include "models/events_file.hpp"

#include <gtest/gtest.h>

#include "models/error.hpp"
#include "neurons/neuron.hpp"
#include "tests/test_util.hpp"

namespace spikesim::models {
namespace {

TEST(EventsFile, RoundTripsEveryScheme) {
  const test::ScratchDir dir;
  const auto x = test::gaussian(6 * 10, 4);
  std::vector<NamedEvents> layers;
  std::int64_t index = 0;
  for (const coding::Scheme s : coding::all_schemes()) {
    const auto counts = neurons::fire(neurons::NeuronConfig{}, x, 6, 10);
    layers.push_back({std::string(coding::name(s)), index++,
                      coding::encode(coding::prepare(
                          counts, {.scheme = s, .steps = std::nullopt, .saturate = false}, "x"))});
  }
  write_events(dir / "e.h5", layers, "test");
  EXPECT_FALSE(std::filesystem::exists(dir / "e.h5.partial"));
  const auto back = read_events(dir / "e.h5");
  ASSERT_EQ(back.size(), layers.size());
  for (std::size_t i = 0; i < back.size(); ++i) {
    EXPECT_EQ(back[i].name, layers[i].name);
    EXPECT_EQ(back[i].events.scheme, layers[i].events.scheme);
    EXPECT_EQ(back[i].events.neuron, layers[i].events.neuron);
    EXPECT_EQ(back[i].events.sign, layers[i].events.sign);
    EXPECT_EQ(back[i].events.step_offset, layers[i].events.step_offset);
    EXPECT_EQ(coding::decode(back[i].events).value, coding::decode(layers[i].events).value);
  }
}

TEST(EventsFile, RejectsOtherHdf5Files) {
  const test::ScratchDir dir;
  test::write_trace(dir / "t.h5", {test::random_layer("a", 0, 2, 4, 2, 1)});
  EXPECT_THROW((void)read_events(dir / "t.h5"), ModelError);
}

}  // namespace
}  // namespace spikesim::models
