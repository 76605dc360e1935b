// split_stratified carves round(fraction · n) files per class, reproducibly, keeping index order.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "data/directory.h"

namespace cxr::data {
namespace {

DatasetIndex make_index(int normal, int pneumonia) {
  DatasetIndex index{{"NORMAL", "PNEUMONIA"}, {}, {}};
  for (int i = 0; i < normal + pneumonia; ++i) {
    index.files.push_back("f" + std::to_string(1000 + i));  // names sort in index order
    index.labels.push_back(i < normal ? 0 : 1);
  }
  return index;
}

TEST(SplitStratified, CountsPerClass) {
  const auto [rest, carved] = split_stratified(make_index(1341, 3875), 0.3, 42);
  // round(0.3 · 1341) = round(402.3) = 402; round(0.3 · 3875) = round(1162.5) = 1163 (half away from 0).
  EXPECT_EQ(class_counts(carved), (std::vector<int>{402, 1163}));
  EXPECT_EQ(class_counts(rest), (std::vector<int>{939, 2712}));
  EXPECT_EQ(carved.class_names, rest.class_names);
}

TEST(SplitStratified, PartsAreDisjointCompleteAndInIndexOrder) {
  const DatasetIndex index = make_index(10, 30);
  const auto [rest, carved] = split_stratified(index, 0.25, 7);
  for (const DatasetIndex* part : {&rest, &carved}) {
    EXPECT_TRUE(std::is_sorted(part->files.begin(), part->files.end()));
    for (size_t i = 0; i < part->files.size(); ++i)  // labels travel with their files
      EXPECT_EQ(part->labels[i], std::stoi(part->files[i].substr(1)) - 1000 < 10 ? 0 : 1);
  }
  std::vector<std::string> all = rest.files;
  all.insert(all.end(), carved.files.begin(), carved.files.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, index.files);
  EXPECT_EQ(class_counts(carved), (std::vector<int>{3, 8}));  // round(2.5) = 3, round(7.5) = 8
}

TEST(SplitStratified, ReproducibleFromTheSeed) {
  const DatasetIndex index = make_index(50, 150);
  const auto a = split_stratified(index, 0.3, 123), b = split_stratified(index, 0.3, 123);
  EXPECT_EQ(a.second.files, b.second.files);
  const auto c = split_stratified(index, 0.3, 124);
  EXPECT_NE(a.second.files, c.second.files);
  EXPECT_EQ(class_counts(c.second), class_counts(a.second));
}

TEST(SplitStratified, EdgeFractions) {
  const DatasetIndex index = make_index(3, 4);
  EXPECT_TRUE(split_stratified(index, 0.0, 1).second.files.empty());
  EXPECT_EQ(split_stratified(index, 1.0, 1).second.files, index.files);
  EXPECT_THROW(split_stratified(index, 1.5, 1), std::invalid_argument);
}

}  // namespace
}  // namespace cxr::data
