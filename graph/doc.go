// Package graph builds the networks of "3D Morphable Models as Spatial
// Transformer Networks" (Bas et al. 2017) in a caller's Gorgonia graph and
// trains them: it is the library a larger network (face recognition, say)
// imports to embed the STN. It depends on the model data (bfm) and the ops
// only; the application (YAML configs, datasets, the training loop,
// evaluation and normalize) lives in graph/run.
//
// # Pieces
//
//   - BuildLocaliser: the regression CNN img (B,3,S,S) -> theta (B,6+D),
//     "small" (S = 112) or "vggface" (VGG-16 to relu7, S = 224).
//   - BuildSTN: theta and img -> rotation, 3D points, 2D points (pixels),
//     sampled texture, visibility mask, masked output and landmarks
//     (Fig. 1, Eqs. 1-5). It does not own the graph: a larger network
//     consumes its nodes and trains end to end (see example_test.go).
//   - LandmarkLoss, PriorLoss, SymmetryLoss, SiameseLoss, BuildLosses: the
//     terms of Sec. 3.3, each normalised to a mean so that its weight means
//     the same at any batch, landmark count or grid size.
//   - Optimizer: SGD with momentum and Adam working in place on node values
//     (no per-step allocation), per-parameter multipliers, schedules,
//     gradient clipping and a NaN/Inf guard.
//   - Weights files (weights.go) and checkpoints (checkpoint.go): versioned
//     binary formats with CRC-32, written atomically.
//   - Network: one graph with inputs, localiser, STN, losses, a training and a
//     forward-only machine.
//
// # Conventions
//
//   - theta = [r(3), t(2), log s, alpha(D)]: r axis-angle in radians, t in
//     pixels, s = b^(log s) pixels per model unit (b = e by default, 0.99 in
//     the reference code), alpha ~ N(0, I).
//   - Image coordinates: x right, y down, (0,0) the centre of the top-left
//     pixel; the image centre of an S x S input is ((S-1)/2, (S-1)/2).
//   - Model coordinates: x right, y up, z towards the viewer; image
//     position = (t_x + s X', t_y - s Y') for rotated vertex X'.
//   - Layouts: NCHW images; planar point sets (B,K,N); grid vertex
//     k = row*Cols + col; conv filters (Cout,Cin,kH,kW), fully connected
//     weights (in,out).
package graph
