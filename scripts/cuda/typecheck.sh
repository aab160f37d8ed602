#!/usr/bin/env bash
# typecheck.sh: go vet of the cuda-tagged Go files of this repository on a
# machine without CUDA headers.
#
# cgo cannot compile gorgonia.org/cu without cuda.h/cudnn.h, so `go vet -tags
# cuda` stops there. This script instead vets ops, graph and
# scripts/cuda/check WITHOUT the tag, through a `go -overlay` that
#   - strips `//go:build cuda` from ops/*_cuda.go, graph/device_cuda.go and
#     scripts/cuda/check/main.go (and empties graph/device_cpu.go, their twin);
#   - replaces the patched gorgonia.org/cu (build/cuda/mod, from prepare.sh)
#     and gorgonia/cuda by stubs declaring exactly the API those files use,
#     with the real signatures; adds CUDAMachine and AddToStdLib to gorgonia.
# It checks types and vet rules of our code, not cu/gorgonia themselves.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
[ -f build/cuda/go.mod ] || scripts/cuda/prepare.sh >/dev/null
mod="$root/build/cuda/mod"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
json="$work/overlay.json"
n=0

# add PATH FILE: overlay PATH with FILE ("" deletes PATH).
add() {
	if [ "$n" = 0 ]; then printf '{"Replace": {\n' >"$json"; else printf ',\n' >>"$json"; fi
	printf '  "%s": "%s"' "$1" "$2" >>"$json"
	n=$((n + 1))
}

# stub PATH CONTENT: overlay PATH with CONTENT.
stub() {
	n_file="$work/f$n.go"
	printf '%s\n' "$2" >"$n_file"
	add "$1" "$n_file"
}

# emptypkg DIR PKG: every Go file of DIR becomes `package PKG`, C files go.
emptypkg() {
	local f
	for f in "$1"/*; do
		case "$f" in
		*_test.go) ;;
		*.go) stub "$f" "package $2" ;;
		*.c | *.h) add "$f" "" ;;
		esac
	done
}

emptypkg "$mod/cu@v0.9.6" cu
stub "$mod/cu@v0.9.6/zz_stub.go" 'package cu

import "unsafe"

type DevicePtr uintptr

func (d DevicePtr) Uintptr() uintptr   { return uintptr(d) }
func (mem DevicePtr) MemSize() uintptr { return 0 }

type Function struct{ fn uintptr }
type Stream struct{ s uintptr }

var NoStream = Stream{}

type BatchedContext struct{}

func (ctx *BatchedContext) LaunchAndSync(function Function, gridDimX, gridDimY, gridDimZ int, blockDimX, blockDimY, blockDimZ int, sharedMemBytes int, stream Stream, kernelParams []unsafe.Pointer) {
}
func (ctx *BatchedContext) MemcpyHtoD(dst DevicePtr, src unsafe.Pointer, byteCount int64) {}

type Device int

func NumDevices() (count int, err error)                       { return 0, nil }
func GetDevice(ordinal int) (device Device, err error)         { return 0, nil }
func (d Device) Name() (string, error)                         { return "", nil }
func (d Device) ComputeCapability() (major, minor int, err error) { return 0, 0, nil }
func (dev Device) TotalMem() (bytes int64, err error)          { return 0, nil }'

emptypkg "$mod/gorgonia@v0.9.18/cuda" cuda
stub "$mod/gorgonia@v0.9.18/cuda/zz_stub.go" 'package cuda

import "gorgonia.org/cu"

type Engine struct{}

func (e *Engine) HasFunc(name string) bool          { return false }
func (e *Engine) Functions() map[string]cu.Function { return nil }'

stub "$mod/gorgonia@v0.9.18/zz_stub_cuda.go" 'package gorgonia

import (
	"gorgonia.org/cu"
	"gorgonia.org/gorgonia/cuda"
)

type CUDAMachine interface {
	External
	Engines() []cuda.Engine
	Contexts() []*cu.BatchedContext
	ElemGridSize(n, dev int) (gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ int)
}

func AddToStdLib(name, data string, funcs []string) {}'

for f in ops/*_cuda.go graph/device_cuda.go scripts/cuda/check/main.go; do
	head -n1 "$f" | grep -qx '//go:build cuda' || { echo "typecheck.sh: $f does not start with //go:build cuda" >&2; exit 1; }
	stub "$root/$f" "$(tail -n +2 "$f")"
done
stub "$root/graph/device_cpu.go" 'package graph'
printf '\n}}\n' >>"$json"

go vet -modfile=build/cuda/go.mod -overlay "$json" ./ops/ ./graph/ ./scripts/cuda/check/
echo "typecheck.sh: ops, graph and scripts/cuda/check (cuda files, stubbed CUDA) vet clean"
