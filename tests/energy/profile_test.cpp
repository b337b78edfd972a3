#include "energy/profile.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/test_util.hpp"

namespace spikesim::energy {
namespace {

std::string error_of(const test::ScratchDir& dir, const std::string& json) {
  const auto file = dir / "p.json";
  std::ofstream(file) << json;
  try {
    (void)load_profile(file);
  } catch (const ProfileError& e) {
    return e.what();
  }
  return "";
}

TEST(Profile, EveryShippedProfileLoadsAndDefaultsExist) {
  const auto dir = std::filesystem::path(SPIKESIM_SOURCE_DIR) / "data";
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "hardware")) {
    if (e.path().extension() != ".json") continue;
    const HardwareProfile p = load_profile(e.path());
    EXPECT_EQ(p.name, e.path().stem().string());
    EXPECT_FALSE(p.description.empty()) << p.name;
    for (const auto* side : {&p.spiking, &p.dense}) {
      if (!*side) continue;
      for (const auto& [key, c] : **side)
        EXPECT_FALSE(c.source.empty()) << p.name << "." << key;
    }
    ++n;
  }
  EXPECT_GE(n, 7U);
  for (const auto& name : default_profile_names())
    EXPECT_NO_THROW((void)find_profile(name, dir)) << name;
}

TEST(Profile, PublishedConstants) {
  const auto dir = std::filesystem::path(SPIKESIM_SOURCE_DIR) / "data";
  const auto fp32 = find_profile("horowitz45-fp32", dir);
  EXPECT_DOUBLE_EQ(HardwareProfile::get(fp32.spiking, "e_synop_pj")->nominal, 0.9);
  EXPECT_DOUBLE_EQ(HardwareProfile::get(fp32.dense, "e_mac_pj")->nominal, 4.6);
  const auto loihi = find_profile("loihi", dir);
  EXPECT_DOUBLE_EQ(HardwareProfile::get(loihi.spiking, "e_synop_pj")->nominal, 23.6);
  EXPECT_DOUBLE_EQ(HardwareProfile::get(loihi.spiking, "e_hop_pj")->low, 3.0);
  EXPECT_DOUBLE_EQ(HardwareProfile::get(loihi.spiking, "e_hop_pj")->high, 4.0);
  EXPECT_TRUE(find_profile("truenorth", dir).all_in);
}

TEST(Profile, MalformedProfilesNameTheKey) {
  const test::ScratchDir dir;
  EXPECT_NE(error_of(dir, "{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of(dir, R"({"name":"x","spiking":{"e_synop_pj":{"nominal":1}}})")
                .find("spiking.e_synop_pj: missing 'source'"),
            std::string::npos);
  EXPECT_NE(error_of(dir, R"({"name":"x","spiking":{"e_synop":{"nominal":1,"source":"s"}}})")
                .find("unknown key 'e_synop'"),
            std::string::npos);
  EXPECT_NE(error_of(dir, R"({"name":"x","spiking":{"e_synop_pj":{"nominal":1,"low":2,"source":"s"}}})")
                .find("low <= nominal <= high"),
            std::string::npos);
  // An all-in figure may not be combined with any other spiking term.
  EXPECT_NE(
      error_of(dir, R"({"name":"x","all_in":true,"spiking":{"e_synop_all_in_pj":{"nominal":26,"source":"s"},
                               "e_spike_pj":{"nominal":1,"source":"s"}}})")
          .find("cannot be added to an all-in figure"),
      std::string::npos);
  EXPECT_NE(error_of(dir, R"({"name":"x","colour":"red","dense":{"e_mac_pj":{"nominal":1,"source":"s"}}})")
                .find("unknown key 'colour'"),
            std::string::npos);
  EXPECT_THROW((void)find_profile("no-such-chip", std::filesystem::path(SPIKESIM_SOURCE_DIR) / "data"),
               ProfileError);
}

}  // namespace
}  // namespace spikesim::energy
