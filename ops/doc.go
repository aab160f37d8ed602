// Package ops implements the layers of "3D Morphable Models as Spatial
// Transformer Networks" (Bas, Huber, Smith, Awais, Kittler, ICCV-W 2017) as
// custom Gorgonia ops, each with a hand-written backward pass.
//
// # Conventions
//
//   - Layout: images and textures are NCHW (B,C,H,W); point sets are
//     planar (B,K,N): coordinate k of vertex n is x[b,k,n]. The batch is
//     always the first axis.
//   - Units: angles in radians (axis-angle vectors, |r| = angle); image
//     positions, translations and sample points in pixels; the scale s is
//     pixels per model unit.
//   - Image frame: x right (column), y down (row), (0,0) = the centre of
//     the top-left pixel. Sampling outside the image reads zeros.
//   - Model frame: x right, y up, z towards the viewer; orthographic camera
//     looking down -z. OrthoProject flips y so that image_y = t_y - s*Y.
//   - Geometry image: vertex k = row*cols + col, row 0 = top of the face,
//     col grows with model x; the bilateral mirror is col <-> cols-1-col.
//   - Every op accepts float32 and float64 (all inputs of one dtype); each
//     kernel is written once as a generic function.
//
// # The ops and their gradients
//
//	op                   forward                              gradient to
//	Morphable            alpha,basis,mean -> X (Eq. 1)        alpha, basis, mean
//	AxisAngleToRotation  r (B,3) -> R (B,3,3) (Eq. 2)         r
//	RotatePoints         R, X -> R X (Eq. 3)                  R, X
//	OrthoProject         X, s -> (sX, -sY) (Eqs. 3-4)         X, s
//	LogScale             x -> base^x                          x
//	KronTranslate        y, t -> y + 1_N (x) t (Eq. 5)        y, t
//	TransposePoints      (B,K,N) -> (B,N,K)                   x
//	BilinearSample       img, pts -> (B,C,N) (sampler)        img, pts
//	BackfaceMask         X -> visibility (B,N)                none (constant)
//	FlipCols             mirror of the last axis              x
//	SwapPairs            batch items 0<->1, 2<->3, ...        x
//	Gather               landmark columns (B,K,L)             x (scatter-add)
//
// The localisers' layers, written here for speed (im2col + a blocked GEMM
// with an AVX2/FMA micro-kernel, or OpenBLAS with the openblas build tag;
// parallel over the batch; workspaces reused across steps):
//
//	Conv2D               x, w, b -> [ReLU](w * x + b)         x, w, b
//	Conv2DNoInputGrad    as Conv2D for a network input        w, b
//	MaxPool2x2           2x2, stride 2                        x (to the argmax)
//	Dense                x, w, b -> [ReLU](x w + b)           x, w, b
//
// Constructors check shapes and dtypes and return errors naming the op, the
// argument and the shapes. Gradients are verified against central finite
// differences with package opstest.
package ops
