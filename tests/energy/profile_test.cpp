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
  EXPECT_DOUBLE_EQ(HardwareProfile::get(loihi.spiking, "e_hop_ew_pj")->nominal, 3.0);
  EXPECT_DOUBLE_EQ(HardwareProfile::get(loihi.spiking, "e_hop_ns_pj")->nominal, 4.0);
  ASSERT_TRUE(loihi.chip);
  EXPECT_EQ(loihi.chip->cores_per_chip, 128);
  EXPECT_EQ(loihi.chip->neurons_per_core, 1024);
  EXPECT_DOUBLE_EQ(loihi.chip->synaptic_memory_bytes_per_core * 128, 16.0 * 1024 * 1024);  // 16 MB per chip
  EXPECT_EQ(loihi.chip->routing, Routing::unicast);
  EXPECT_FALSE(loihi.chip->entries.at("cores_per_tile").source.empty());
  EXPECT_TRUE(find_profile("truenorth", dir).all_in);
  const auto mem = find_profile("horowitz45-memory-int8", dir);
  EXPECT_DOUBLE_EQ(HardwareProfile::get(mem.spiking, "e_sram_base_pj")->nominal, 13.2);
  EXPECT_DOUBLE_EQ(HardwareProfile::get(mem.spiking, "e_sram_per_bit_pj")->nominal, 1.09e-5);
  EXPECT_DOUBLE_EQ(mem.state_bits, 16);
  // GPU memory-bound: TDP / bandwidth is the upper end of the range.
  EXPECT_DOUBLE_EQ(
      HardwareProfile::get(find_profile("a100-bf16-memory", dir).dense, "e_weight_byte_pj")->high, 196);
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

TEST(Profile, MalformedMemoryRoutingAndChipKeysNameTheKey) {
  const test::ScratchDir dir;
  const std::string synop = R"("e_synop_pj":{"nominal":1,"source":"s"})";
  const auto spiking = [&](const std::string& extra) {
    return R"({"name":"x","spiking":{)" + synop + extra + "}}";
  };
  EXPECT_NE(error_of(dir, spiking(R"(,"e_sram_base_pj":{"nominal":13,"source":"s"})"))
                .find("spiking.e_sram_base_pj and e_sram_per_bit_pj go together"),
            std::string::npos)
      << error_of(dir, spiking(R"(,"e_sram_base_pj":{"nominal":13,"source":"s"})"));
  EXPECT_NE(error_of(dir, spiking(R"(,"e_hop_ew_pj":{"nominal":3,"source":"s"})")).find("e_hop_ns_pj"),
            std::string::npos);
  EXPECT_NE(
      error_of(dir,
               spiking(R"(,"e_hop_pj":{"nominal":3,"source":"s"},"e_hop_ew_pj":{"nominal":3,"source":"s"},
                                    "e_hop_ns_pj":{"nominal":4,"source":"s"})"))
          .find("give one hop model"),
      std::string::npos);
  EXPECT_NE(
      error_of(dir, spiking(R"(,"e_dram_access_pj":{"nominal":1300,"source":"s"})")).find("caps the SRAM"),
      std::string::npos);
  EXPECT_NE(error_of(dir, R"({"name":"x","weight_bits":"8","dense":{"e_mac_pj":{"nominal":1,"source":"s"}}})")
                .find("weight_bits: expected a number > 0"),
            std::string::npos);
  EXPECT_NE(error_of(dir, R"({"name":"x","all_in":"yes","dense":{"e_mac_pj":{"nominal":1,"source":"s"}}})")
                .find("all_in: expected true or false"),
            std::string::npos);

  const std::string chip_ok =
      R"("cores_per_chip":{"value":8,"source":"s"},"cores_per_tile":{"value":2,"source":"s"},
      "tiles_x":{"value":2,"source":"s"},"tiles_y":{"value":2,"source":"s"},"neurons_per_core":{"value":4,"source":"s"},
      "synaptic_memory_bytes_per_core":{"value":64,"source":"s"})";
  const auto with_chip = [&](const std::string& chip) {
    return R"({"name":"x","spiking":{)" + synop + R"(},"chip":{)" + chip + "}}";
  };
  EXPECT_EQ(error_of(dir, with_chip(chip_ok)), "");
  EXPECT_NE(error_of(dir, with_chip(chip_ok + R"(,"routing":"broadcast")")).find("chip.routing"),
            std::string::npos);
  EXPECT_NE(error_of(dir, with_chip(chip_ok + R"(,"cores_per_die":{"value":1,"source":"s"})"))
                .find("unknown key 'cores_per_die'"),
            std::string::npos);
  std::string no_source = chip_ok;
  no_source.replace(no_source.find(R"({"value":4,"source":"s"})"), 24, R"({"value":4})");
  EXPECT_NE(error_of(dir, with_chip(no_source)).find("chip.neurons_per_core: missing 'source'"),
            std::string::npos);
  std::string ranged = chip_ok;
  ranged.replace(ranged.find(R"({"value":4,"source":"s"})"), 24, R"({"value":4,"low":2,"source":"s"})");
  EXPECT_NE(error_of(dir, with_chip(ranged)).find("capacities take no low/high range"), std::string::npos);
  std::string bad_layout = chip_ok;
  bad_layout.replace(bad_layout.find(R"("cores_per_chip":{"value":8)"), 27, R"("cores_per_chip":{"value":9)");
  EXPECT_NE(error_of(dir, with_chip(bad_layout)).find("cores_per_tile x tiles_x x tiles_y = 8"),
            std::string::npos);
  std::string missing = chip_ok.substr(chip_ok.find("\"cores_per_tile\""));
  EXPECT_NE(error_of(dir, with_chip(missing)).find("chip: missing 'cores_per_chip'"), std::string::npos);
}

}  // namespace
}  // namespace spikesim::energy
