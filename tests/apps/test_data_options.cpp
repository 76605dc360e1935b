// The data section's newer keys: decode, strict, interpolation: area and the augmentation options
// parse, are checked at the value, and round-trip through resolved_yaml.
#include <gtest/gtest.h>

#include "tests/layers/config_error.h"

#include "apps/experiment_config.h"

namespace cxr {
namespace {

ExperimentConfig parse(const std::string& data_lines) {
  return parse_experiment_config(SpecNode::load_string("name: t\n"
                                                       "data:\n"
                                                       "  image_size: 8\n" +
                                                           data_lines +
                                                           "model:\n"
                                                           "  input: [8, 8, 3]\n"
                                                           "  layers:\n"
                                                           "    - {type: Flatten}\n",
                                                       "x.yaml"));
}

TEST(DataOptions, DefaultsAreKerasExactAndOff) {
  const DataConfig d = parse("").data;
  EXPECT_EQ(d.decode, "exact");
  EXPECT_FALSE(d.strict);
  EXPECT_EQ(d.interpolation, "nearest");
  EXPECT_EQ(d.augment, AugmentConfig{});
}

TEST(DataOptions, ParseAndRoundTrip) {
  const ExperimentConfig c = parse(
      "  decode: fast\n"
      "  strict: true\n"
      "  interpolation: area\n"
      "  augment: {zoom_range: 0.1, rotation_range: 15, horizontal_flip: true, brightness_range: [0.8, 1.25],"
      " contrast_range: 0.2}\n");
  EXPECT_EQ(c.data.decode, "fast");
  EXPECT_TRUE(c.data.strict);
  EXPECT_EQ(c.data.interpolation, "area");
  EXPECT_EQ(c.data.augment.rotation_range, 15);
  EXPECT_TRUE(c.data.augment.horizontal_flip);
  EXPECT_EQ(c.data.augment.brightness_min, 0.8);
  EXPECT_EQ(c.data.augment.brightness_max, 1.25);
  EXPECT_EQ(c.data.augment.contrast_range, 0.2);
  const ExperimentConfig again = parse_experiment_config(SpecNode::load_string(resolved_yaml(c), "r.yaml"));
  EXPECT_EQ(again.data, c.data);
  // And with every option off, the resolved file reads back the same too (brightness_range: null).
  const ExperimentConfig plain = parse("");
  EXPECT_EQ(parse_experiment_config(SpecNode::load_string(resolved_yaml(plain), "r.yaml")).data, plain.data);
}

TEST(DataOptions, BadValuesFailAtTheValue) {
  auto error = [](const std::string& lines) { return testing::config_error_of([&] { parse(lines); }); };
  EXPECT_NE(error("  decode: quick\n").find("x.yaml:4:11: data.decode: expected one of exact, fast, got 'quick'"), std::string::npos)
      << error("  decode: quick\n");
  EXPECT_NE(error("  augment: {rotation_range: 200}\n").find("must be in [0, 180]"), std::string::npos);
  EXPECT_NE(error("  augment: {brightness_range: [1.2]}\n").find("expected [min, max]"), std::string::npos);
  EXPECT_NE(error("  augment: {brightness_range: [1.2, 0.8]}\n").find("0 <= min <= max"), std::string::npos);
  EXPECT_NE(error("  augment: {contrast_range: 1.5}\n").find("must be in [0, 1)"), std::string::npos);
  EXPECT_NE(error("  interpolation: bicubic\n").find("nearest, bilinear, area"), std::string::npos);
}

}  // namespace
}  // namespace cxr
