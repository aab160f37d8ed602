//go:build cuda

package ops

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"unsafe"

	"gorgonia.org/cu"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// kernelFiles holds ops/kernels: the CUDA sources and the PTX modules that
// scripts/cuda/build.sh compiles from them with nvcc for the GPU at hand
// (kernels/NAME.ptx from kernels/NAME.cu). A build without the PTX compiles
// but every CUDA op then fails with an error naming the missing module.
//
//go:embed kernels
var kernelFiles embed.FS

// ptxEntry matches the kernel entry points of a PTX module.
var ptxEntry = regexp.MustCompile(`\.entry\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(`)

// ptxModule is one PTX file of kernelFiles: its module name (the file's
// stem), its text and its kernels.
type ptxModule struct {
	name  string
	data  string
	funcs []string
}

// ptxModules lists the PTX modules embedded in kernelFiles, sorted by name.
func ptxModules() ([]ptxModule, error) {
	paths, err := fs.Glob(kernelFiles, "kernels/*.ptx")
	if err != nil {
		return nil, fmt.Errorf("ops: listing embedded PTX: %w", err)
	}
	sort.Strings(paths)
	mods := make([]ptxModule, 0, len(paths))
	for _, p := range paths {
		b, err := kernelFiles.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("ops: reading embedded %s: %w", p, err)
		}
		m := ptxModule{name: strings.TrimSuffix(path.Base(p), ".ptx"), data: string(b)}
		for _, sub := range ptxEntry.FindAllStringSubmatch(m.data, -1) {
			m.funcs = append(m.funcs, sub[1])
		}
		if len(m.funcs) == 0 {
			return nil, fmt.Errorf("ops: embedded %s has no .entry kernels; rebuild it with scripts/cuda/build.sh", p)
		}
		mods = append(mods, m)
	}
	return mods, nil
}

// init hands every embedded PTX module to Gorgonia's CUDA standard library,
// which loads it into each engine when a tape machine starts (the only
// registration hook Gorgonia offers for custom kernels).
func init() {
	mods, err := ptxModules()
	if err != nil {
		// Reported again, with context, by the first op that needs a kernel.
		return
	}
	for _, m := range mods {
		gorgonia.AddToStdLib(m.name, m.data, m.funcs)
	}
}

// threadsPerBlock is the block size of every launch; the reduction kernels
// (one block per output) are written for exactly this many threads
// (STN3D_THREADS in kernels/common.cuh).
const threadsPerBlock = 256

// maxBlocks bounds the grid of element-wise launches; their grid-stride
// loops cover any size.
const maxBlocks = 1 << 16

// gpuCall is one CUDADo invocation: the machine, the device and the dtype
// suffix ("f32" or "f64") of the kernels it launches.
type gpuCall struct {
	op      fmt.Stringer
	extern  gorgonia.External
	machine gorgonia.CUDAMachine
	dev     gorgonia.Device
	dt      tensor.Dtype
	suffix  string
}

// newGPUCall checks that extern is a CUDA machine with an engine for dev and
// that the inputs share one float dtype.
func newGPUCall(op fmt.Stringer, extern gorgonia.External, dev gorgonia.Device, inputs []gorgonia.Value) (*gpuCall, error) {
	m, ok := extern.(gorgonia.CUDAMachine)
	if !ok {
		return nil, fmt.Errorf("%v: CUDADo needs a CUDA machine, got %T", op, extern)
	}
	if int(dev) < 0 || int(dev) >= len(m.Engines()) {
		return nil, fmt.Errorf("%v: device %d has no CUDA engine (%d engines)", op, int(dev), len(m.Engines()))
	}
	if len(inputs) == 0 {
		return nil, fmt.Errorf("%v: no inputs", op)
	}
	dt := inputs[0].Dtype()
	var suffix string
	switch dt {
	case tensor.Float32:
		suffix = "f32"
	case tensor.Float64:
		suffix = "f64"
	default:
		return nil, fmt.Errorf("%v: input 0 has dtype %v, want float32 or float64", op, dt)
	}
	for i, v := range inputs[1:] {
		if v.Dtype() != dt {
			return nil, fmt.Errorf("%v: input %d has dtype %v, input 0 has %v", op, i+1, v.Dtype(), dt)
		}
	}
	return &gpuCall{op: op, extern: extern, machine: m, dev: dev, dt: dt, suffix: suffix}, nil
}

// shapes returns the shapes of vals. A scalar (Gorgonia's form of a
// batch-of-one slice) counts as a one-element vector, as in run.
func shapes(vals []gorgonia.Value) []tensor.Shape {
	s := make([]tensor.Shape, len(vals))
	for i, v := range vals {
		s[i] = v.Shape()
		if len(s[i]) == 0 {
			s[i] = tensor.Shape{1}
		}
	}
	return s
}

// output returns the device tensor the op writes: prealloc when it has the
// right shape and dtype, otherwise a new block of the engine's pool.
func (g *gpuCall) output(prealloc gorgonia.Value, shape tensor.Shape) (gorgonia.Value, error) {
	if p, ok := prealloc.(tensor.Tensor); ok && p.Dtype() == g.dt && p.Shape().Eq(shape) && p.Uintptr() != 0 {
		return prealloc, nil
	}
	size := int64(shape.TotalSize()) * int64(g.dt.Size())
	mem, err := g.extern.Get(g.dev, size)
	if err != nil {
		return nil, fmt.Errorf("%v: allocating %d bytes on device %d: %w", g.op, size, int(g.dev), err)
	}
	return tensor.New(tensor.Of(g.dt), tensor.WithShape(shape.Clone()...), tensor.FromMemory(mem.Uintptr(), uintptr(size))), nil
}

// fn returns the loaded kernel module.name_f32 (or _f64).
func (g *gpuCall) fn(module, name string) (cu.Function, error) {
	full := module + "." + name + "_" + g.suffix
	eng := &g.machine.Engines()[int(g.dev)]
	if !eng.HasFunc(full) {
		return cu.Function{}, fmt.Errorf("%v: CUDA kernel %q is not loaded: ops/kernels/%s.ptx is missing from this build (scripts/cuda/build.sh compiles it with nvcc)", g.op, full, module)
	}
	return eng.Functions()[full], nil
}

// ptr is the device address of a value, as a kernel argument.
func ptr(v gorgonia.Value) uint64 { return uint64(v.Uintptr()) }

// i64 is an integer kernel argument (long long in the kernels).
func i64(n int) uint64 { return uint64(int64(n)) }

// launch runs module.name over blocks x threadsPerBlock threads. Every
// argument is 8 bytes (a device address or a long long): cu's
// BatchedContext.LaunchKernel copies each one as a uint64 before returning.
func (g *gpuCall) launch(module, name string, blocks int, args ...uint64) error {
	f, err := g.fn(module, name)
	if err != nil {
		return err
	}
	if blocks < 1 {
		blocks = 1
	}
	params := make([]unsafe.Pointer, len(args))
	for i := range args {
		params[i] = unsafe.Pointer(&args[i])
	}
	ctx := g.machine.Contexts()[int(g.dev)]
	ctx.LaunchAndSync(f, blocks, 1, 1, threadsPerBlock, 1, 1, 0, cu.NoStream, params)
	return nil
}

// launchElems runs an element-wise kernel over n items (grid-stride).
func (g *gpuCall) launchElems(module, name string, n int, args ...uint64) error {
	blocks := min((n+threadsPerBlock-1)/threadsPerBlock, maxBlocks)
	return g.launch(module, name, blocks, args...)
}

// zero clears the n elements of v.
func (g *gpuCall) zero(v gorgonia.Value, n int) error {
	return g.launchElems("index", "zero", n, ptr(v), i64(n))
}

// upload copies idx to a new block of device memory as int64s and returns
// it with its size in bytes; the caller gives it back with release after the
// kernels that read it are enqueued (all work runs in order on one stream).
func (g *gpuCall) upload(idx []int) (cu.DevicePtr, int64, error) {
	host := make([]int64, len(idx))
	for i, v := range idx {
		host[i] = int64(v)
	}
	size := int64(len(host)) * 8
	mem, err := g.extern.Get(g.dev, size)
	if err != nil {
		return 0, 0, fmt.Errorf("%v: allocating %d bytes of indices on device %d: %w", g.op, size, int(g.dev), err)
	}
	dst := cu.DevicePtr(mem.Uintptr())
	ctx := g.machine.Contexts()[int(g.dev)]
	ctx.MemcpyHtoD(dst, unsafe.Pointer(&host[0]), size)
	// The copy is batched: flush the queue now, while host is alive.
	g.extern.Signal()
	runtime.KeepAlive(host)
	return dst, size, nil
}

// release gives an uploaded block back to the engine's pool.
func (g *gpuCall) release(mem cu.DevicePtr, size int64) { g.extern.Put(g.dev, mem, size) }

// cudaRun is the CUDADo of every op here: it validates the inputs with the
// op's outShape (the same checks as the CPU path), picks the output and runs
// body, which enqueues the op's kernels.
func cudaRun(k kernel, extern gorgonia.External, dev gorgonia.Device, prealloc gorgonia.Value, inputs []gorgonia.Value,
	body func(g *gpuCall, out gorgonia.Value, in []gorgonia.Value, s []tensor.Shape) error) (gorgonia.Value, error) {
	if len(inputs) != k.Arity() {
		return nil, fmt.Errorf("%v: got %d inputs, want %d", k, len(inputs), k.Arity())
	}
	g, err := newGPUCall(k, extern, dev, inputs)
	if err != nil {
		return nil, err
	}
	s := shapes(inputs)
	shape, err := k.outShape(s)
	if err != nil {
		return nil, err
	}
	out, err := g.output(prealloc, shape)
	if err != nil {
		return nil, err
	}
	if err := body(g, out, inputs, s); err != nil {
		return nil, err
	}
	return out, nil
}
