// Keras's ResNet50V2 (keras/applications/resnet.py and resnet_v2.py; facts §1), written ONCE as a
// template over a "net" that either builds (shapes in, parameters created) or runs (tensors in).
// Every name is Keras's layer name, so parameters and weight files line up with the HDF5 file.
//
// Easy to get wrong, and why it is so here:
//   - the stride-2 sits in the LAST block of conv2..conv4 (conv2_block3, conv3_block4, conv4_block6);
//   - the conv shortcut reads `preact`, the identity / 1x1-max-pool shortcut reads the block's raw x;
//   - pool1 pads the raw conv1 output with ZEROS, then a 'valid' 3x3/2 max-pool;
//   - _1_conv and _2_conv have no bias; conv1_conv, _0_conv and _3_conv have one; no ReLU after the add.
#pragma once
#include <string>

namespace cxr::resnet {

// block2(x, filters, stride, conv_shortcut, name) in resnet.py.
template <class Net, class V>
V block2(Net& net, const V& x, int filters, int stride, bool conv_shortcut, const std::string& name) {
  [[maybe_unused]] const auto timed = net.part(name);  // a row of `cxrnet profile` (engine/profile.h) when running
  const V preact = net.relu(net.batch_norm(x, name + "_preact_bn"));
  V shortcut;
  if (conv_shortcut)
    shortcut = net.conv(preact, name + "_0_conv", 4 * filters, 1, stride, true);
  else
    shortcut = stride > 1 ? net.max_pool(x, 1, stride) : x;  // Keras's unnamed MaxPooling2D(1, strides=stride)
  V h = net.relu(net.batch_norm(net.conv(preact, name + "_1_conv", filters, 1, 1, false), name + "_1_bn"));
  h = net.zero_pad(h, 1);  // name_2_pad: ((1, 1), (1, 1))
  h = net.relu(net.batch_norm(net.conv(h, name + "_2_conv", filters, 3, stride, false), name + "_2_bn"));
  h = net.conv(h, name + "_3_conv", 4 * filters, 1, 1, true);
  return net.add(shortcut, h);  // name_out
}

// stack2(x, filters, blocks, stride1, name): the first block has the conv shortcut, the last the stride.
template <class Net, class V>
V stack2(Net& net, V x, int filters, int blocks, int stride1, const std::string& name) {
  x = block2(net, x, filters, 1, true, name + "_block1");
  for (int i = 2; i < blocks; ++i) x = block2(net, x, filters, 1, false, name + "_block" + std::to_string(i));
  return block2(net, x, filters, stride1, false, name + "_block" + std::to_string(blocks));
}

// ResNet(stack_fn, preact=True, use_bias=True, include_top=False, pooling=None).
template <class Net, class V>
V resnet50v2(Net& net, V x) {
  {
    [[maybe_unused]] const auto timed = net.part("conv1");
    x = net.zero_pad(x, 3);                               // conv1_pad
    x = net.conv(x, "conv1_conv", 64, 7, 2, true);        // preact: no BN/ReLU after conv1
    x = net.zero_pad(x, 1);                               // pool1_pad
    x = net.max_pool(x, 3, 2);                            // pool1_pool
  }
  x = stack2(net, x, 64, 3, 2, "conv2");
  x = stack2(net, x, 128, 4, 2, "conv3");
  x = stack2(net, x, 256, 6, 2, "conv4");
  x = stack2(net, x, 512, 3, 1, "conv5");
  [[maybe_unused]] const auto timed = net.part("post");
  return net.relu(net.batch_norm(x, "post_bn"));          // post_bn, post_relu
}

}  // namespace cxr::resnet
