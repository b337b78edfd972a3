// base/json.hpp: JSON errors name the file and the key path.

#include "base/json.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <limits>

#include "base/error.hpp"
#include "tests/test_util.hpp"

namespace spikesim {
namespace {

using ::testing::HasSubstr;
using J = JsonAt<UserError>;

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Json, ParseErrorsNameTheFileAndThePosition) {
  test::ScratchDir dir;
  std::ofstream(dir / "bad.json") << "{\"a\": [1, 2,, 3]}";
  const std::string e = error_of([&] { (void)parse_json_file<UserError>(dir / "bad.json"); });
  EXPECT_THAT(e, HasSubstr((dir / "bad.json").string() + ": not valid JSON (parse error at line 1, column"));
  EXPECT_THAT(e, ::testing::Not(HasSubstr("[json.exception")));
  EXPECT_THAT(error_of([&] { (void)parse_json_file<UserError>(dir / "none.json"); }),
              HasSubstr("none.json: file not found"));
  EXPECT_THAT(error_of([&] { (void)parse_json_file<UserError>(dir.path()); }), HasSubstr("is a directory"));
  EXPECT_THAT(error_of([] { (void)parse_json<UserError>(R"({"a": 1e400})", "cfg.json"); }),
              HasSubstr("cfg.json: not valid JSON (number overflow parsing '1e400')"));
}

TEST(Json, TypedGettersNameTheKeyPathAndWhatWasFound) {
  nlohmann::json doc = nlohmann::json::parse(
      R"({"n": 5, "half": 64.5, "whole": 64.0, "s": "x", "list": [1, {"deep": true}],
          "obj": {"k": -3}, "nil": null, "u": 18446744073709551615})");
  doc["big"] = std::numeric_limits<double>::infinity();  // nlohmann refuses 1e400 when parsing (below)
  const J j(doc, "cfg.json");
  EXPECT_EQ(j.at("n").integer(1, 10), 5);
  EXPECT_EQ(j.at("whole").integer(), 64);
  EXPECT_EQ(j.integer_or("missing", 7), 7);
  EXPECT_EQ(j.integer_or("nil", 7), 7);  // null is absent
  EXPECT_TRUE(j.at("list").at(1).at("deep").boolean());
  EXPECT_THAT(error_of([&] { (void)j.at("half").integer(); }),
              HasSubstr("cfg.json: key 'half' must be an integer, found 64.5"));
  EXPECT_THAT(error_of([&] { (void)j.at("n").integer(6, 9); }),
              HasSubstr("cfg.json: key 'n' must be an integer in [6, 9], found 5"));
  EXPECT_THAT(error_of([&] { (void)j.at("obj").at("k").integer(0); }),
              HasSubstr("key 'obj.k' must be an integer >= 0, found -3"));
  EXPECT_THAT(error_of([&] { (void)j.at("u").integer(); }), HasSubstr("key 'u' must be an integer"));
  EXPECT_THAT(error_of([&] { (void)j.at("big").number(); }), HasSubstr("key 'big' must be a finite number"));
  EXPECT_THAT(error_of([&] { (void)j.at("s").number(); }),
              HasSubstr("key 's' must be a finite number, found \"x\""));
  EXPECT_THAT(error_of([&] { (void)j.at("list").at(1).at("deep").string(); }),
              HasSubstr("key 'list[1].deep' must be a string, found true"));
  EXPECT_THAT(error_of([&] { (void)j.at("list").at(5); }),
              HasSubstr("key 'list' has 2 elements, element 5 missing"));
  EXPECT_THAT(error_of([&] { (void)j.at("nope"); }), HasSubstr("cfg.json: key 'nope' missing"));
  EXPECT_THAT(error_of([&] { (void)j.at("s").at("x"); }), HasSubstr("key 's' must be an object"));
  EXPECT_THAT(error_of([&] { (void)j.at("n").items(); }), HasSubstr("key 'n' must be an object"));
  const auto items = j.at("obj").items();
  ASSERT_EQ(items.size(), 1U);
  EXPECT_EQ(items[0].second.path(), "obj.k");
}

TEST(Json, WithJsonErrorsWrapsNlohmannExceptions) {
  const nlohmann::json doc = nlohmann::json::parse(R"({"a": "text"})");
  const std::string e = error_of(
      [&] { with_json_errors<UserError>("m.h5: model_config", [&] { return doc.at("a").get<int>(); }); });
  EXPECT_THAT(e, HasSubstr("m.h5: model_config: type must be number"));
}

}  // namespace
}  // namespace spikesim
