#!/usr/bin/env bash
# build.sh: the CUDA build of stn3d (issue 6). See scripts/cuda/README.md.
#
#   scripts/cuda/build.sh bundle OUT.tar.xz   (make cuda-bundle; any machine with Go)
#       a self-contained tarball: a trimmed Go toolchain, the module cache
#       subset the cuda build needs, and the repository at HEAD.
#   scripts/cuda/build.sh gpu BUNDLE.tar.xz   (the GPU machine: nvcc, no Go, no network)
#       unpacks the bundle and runs the pipeline below with its toolchain.
#   scripts/cuda/build.sh local               (make cuda; a machine with Go and CUDA)
#       runs the pipeline below in this checkout.
#
# Pipeline: patch gorgonia.org/cu and gorgonia (prepare.sh), compile PTX with
# nvcc for the detected GPU (nvidia-smi compute_cap): Gorgonia's element-wise
# kernels ("cuda modules/src") and ops/kernels; build bin/stn3d-cuda and
# bin/cuda-check with -tags cuda; run the GPU-vs-CPU op check; train
# configs/paper.yaml on synthetic data (STEPS steps, batch BATCH) and report
# loss, images/s and GPU memory. Reports go to $OUT when set (the device
# runner's output folder), else build/cuda/report.
#
# Environment: CUDA_HOME (default /usr/local/cuda), STEPS (300), BATCH (32),
# TRAIN_TIMEOUT (seconds, 300), SKIP_TRAIN=1 (check only), STN3D_CUDA_MEM_FRACTION (0.8),
# STN3D_CUDA_POOL (device|managed; default device).
set -euo pipefail

die() { echo "build.sh: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
STEPS=${STEPS:-300}
BATCH=${BATCH:-32}
TRAIN_TIMEOUT=${TRAIN_TIMEOUT:-300}

# ---------------------------------------------------------------- bundle ---

# bundle OUT: toolchain + module cache subset + repository (HEAD) as .tar.xz.
bundle() {
	local out=$1 root stage goroot modcache
	root=$(cd "$here/../.." && pwd)
	command -v go >/dev/null || die "go is not installed"
	command -v xz >/dev/null || die "xz is not installed"
	case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
	goroot=$(go env GOROOT)
	modcache=$(cd "$root" && go env GOMODCACHE)
	stage=$(mktemp -d)
	trap 'chmod -R u+w "$stage" 2>/dev/null; rm -rf "$stage"' RETURN

	log "toolchain $(go env GOVERSION) from $goroot"
	mkdir -p "$stage/go/bin" "$stage/go/pkg/tool/linux_amd64"
	cp "$goroot/bin/go" "$stage/go/bin/"
	for t in compile link asm cgo; do
		cp "$goroot/pkg/tool/linux_amd64/$t" "$stage/go/pkg/tool/linux_amd64/"
	done
	cp -r "$goroot/pkg/include" "$stage/go/pkg/"
	cp "$goroot/VERSION" "$goroot/go.env" "$stage/go/"
	(cd "$goroot" && find src -path src/cmd -prune -o -name testdata -prune -o -type f -print0 |
		tar --null -T - -cf -) | tar -xf - -C "$stage/go"

	log "repository at $(cd "$root" && git rev-parse --short HEAD)"
	mkdir -p "$stage/repo"
	(cd "$root" && git archive --format=tar HEAD) | tar -xf - -C "$stage/repo"

	log "module cache subset"
	mkdir -p "$stage/gomod/cache/download"
	# go.mod, .info and .ziphash of every cached module version: the module
	# graph and go.sum checks need them, the zips are not needed.
	(cd "$modcache" && find cache/download -type f \( -name '*.mod' -o -name '*.info' -o -name '*.ziphash' \) -print0 |
		tar --null -T - -cf -) | tar -xf - -C "$stage/gomod"
	# The files of every package the cuda build compiles (linux/amd64, tag
	# cuda), plus each module's go.mod; gorgonia.org/cu and gorgonia whole
	# (prepare.sh patches them; cudagen's kernel sources live there).
	local lst
	lst=$(mktemp)
	# (on copies of go.mod/go.sum: go list must not rewrite the repository's)
	cp "$root/go.mod" "$stage/list.mod"
	cp "$root/go.sum" "$stage/list.sum"
	# shellcheck disable=SC2016 # a Go template, not shell
	(cd "$root" && GOOS=linux GOARCH=amd64 CGO_ENABLED=1 go list -modfile="$stage/list.mod" -deps -tags cuda \
		-f '{{if and .Module (not .Module.Main)}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .CgoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .CFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .HFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .SFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{.Module.Dir}}/go.mod{{"\n"}}{{end}}' \
		./... ./scripts/cuda/check) | sort -u | while IFS= read -r f; do
		# modules without a go.mod of their own (pre-modules code) have none
		[ -e "$f" ] && echo "${f#"$modcache"/}"
	done >"$lst"
	grep -q '^gorgonia.org/cu@' "$lst" || die "go list found no gorgonia.org/cu package; is the cuda tag wired?"
	(cd "$modcache" && tar -T "$lst" -cf -) | tar -xf - -C "$stage/gomod"
	rm -f "$lst"
	# (without gorgonia's 85 MB of examples, media and docs)
	for m in gorgonia.org/cu@v0.9.6 gorgonia.org/gorgonia@v0.9.18; do
		rm -rf "${stage:?}/gomod/$m"
		(cd "$modcache" && tar --exclude="$m/examples" --exclude="$m/media" --exclude="$m/docs" -cf - "$m") |
			tar -xf - -C "$stage/gomod"
	done
	chmod -R u+w "$stage"

	mkdir -p "$(dirname "$out")"
	local tmp="$out.tmp.$$"
	rm -f "$stage/list.mod" "$stage/list.sum"
	tar -C "$stage" -cf - go gomod repo | xz -T0 -6 >"$tmp"
	mv "$tmp" "$out"
	log "wrote $out ($(du -h "$out" | cut -f1))"
}

# ------------------------------------------------------------- pipeline ---

# find_one NAME DIR...: the first file called NAME under the DIRs.
find_one() {
	local name=$1
	shift
	local d f
	for d in "$@"; do
		[ -d "$d" ] || continue
		f=$(find "$d" -name "$name" \( -type f -o -type l \) -print -quit 2>/dev/null || true)
		if [ -n "$f" ]; then
			echo "$f"
			return 0
		fi
	done
	return 1
}

# cuda_env: CGO flags, link dir and LD_LIBRARY_PATH for CUDA 13, cuBLAS 13
# and cuDNN 9 wherever they are (cuDNN often sits in a Python environment).
cuda_env() {
	local root=$1 linkdir hdr lib libdirs=""
	[ -d "$CUDA_HOME" ] || die "CUDA toolkit not found at $CUDA_HOME"
	export PATH="$CUDA_HOME/bin:$PATH"
	command -v nvcc >/dev/null || die "nvcc not found in $CUDA_HOME/bin"
	[ -f "$CUDA_HOME/include/cuda.h" ] || die "cuda.h not found in $CUDA_HOME/include"
	linkdir="$root/build/cuda/lib"
	mkdir -p "$linkdir"
	# libNAME.so for the linker: link each library's versioned file into
	# linkdir when no unversioned one is at hand.
	local spec name so dirs
	for spec in "cuda|libcuda.so.1|/usr/lib/x86_64-linux-gnu /usr/lib64 $CUDA_HOME/lib64/stubs" \
		"cublas|libcublas.so.13|$CUDA_HOME/targets/x86_64-linux/lib $CUDA_HOME/lib64 /usr/local" \
		"cudnn|libcudnn.so.9|/usr/lib/x86_64-linux-gnu $CUDA_HOME /usr/local /opt /usr /root /home"; do
		IFS='|' read -r name so dirs <<<"$spec"
		# shellcheck disable=SC2086 # dirs is a list
		lib=$(find_one "$so" $dirs) || die "$so not found (searched $dirs)"
		ln -sf "$(readlink -f "$lib")" "$linkdir/lib$name.so"
		libdirs="$libdirs:$(dirname "$(readlink -f "$lib")")"
		echo "   lib$name: $lib" >&2
	done
	# the header next to the library first: it matches its version
	hdr=$(find_one cudnn.h "$(dirname "$(readlink -f "$linkdir/libcudnn.so")")/.." "$CUDA_HOME/include" /usr/include /usr/local /opt /usr /root /home) ||
		die "cudnn.h not found"
	echo "   cudnn.h: $hdr" >&2
	local hdrdir
	hdrdir=$(dirname "$hdr")
	export CGO_CFLAGS="-I$CUDA_HOME/include -I$hdrdir ${CGO_CFLAGS:-}"
	export CGO_LDFLAGS="-L$linkdir -Wl,-rpath,${libdirs#:} ${CGO_LDFLAGS:-}"
	export LD_LIBRARY_PATH="${libdirs#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	export CGO_ENABLED=1
}

# gpu_arch: compute capability of GPU 0 as e.g. 90.
gpu_arch() {
	command -v nvidia-smi >/dev/null || die "nvidia-smi not found: no NVIDIA driver on this machine"
	local cc
	cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n1 | tr -d ' .')
	[[ "$cc" =~ ^[0-9]+$ ]] || die "cannot read the compute capability from nvidia-smi (got '$cc')"
	echo "$cc"
}

# ptx CU OUT ARCH: compile one .cu to PTX with cudagen's flags (IEEE
# division and square roots, no fused multiply-add: results match the CPU).
ptx() {
	nvcc -ptx -arch="compute_$3" -Xptxas --allow-expensive-optimizations -fmad=false -ftz=false \
		-prec-div=true -prec-sqrt=true -o "$2" "$1" || die "nvcc failed on $1"
}

# gen_cudamodules DIR ARCH: PTX of Gorgonia's "cuda modules/src/*.cu" as
# DIR/cudamodules.go (what `cudagen -same-module` writes, without needing cu).
gen_cudamodules() {
	local dir=$1 arch=$2 src f name funcs tmpd
	tmpd=$(mktemp -d)
	local out="$dir/cudamodules.go"
	{
		echo "// Code generated by scripts/cuda/build.sh (nvcc -arch=compute_$arch). DO NOT EDIT."
		echo
		echo "//go:build cuda"
		echo
		echo "package gorgonia"
		echo
		echo "func init() {"
	} >"$out"
	for src in "$dir/cuda modules/src/"*.cu; do
		name=$(basename "$src" .cu)
		ptx "$src" "$tmpd/$name.ptx" "$arch"
		funcs=$(grep -oE '\.entry[[:space:]]+[A-Za-z_][A-Za-z0-9_]*' "$tmpd/$name.ptx" | awk '{printf "%s\"%s\"", (NR>1?", ":""), $2}' || true)
		[ -n "$funcs" ] || die "no kernels in $name.ptx"
		echo "	AddToStdLib(\"$name\", ${name}PTX, []string{$funcs})" >>"$out"
	done
	echo "}" >>"$out"
	for f in "$tmpd"/*.ptx; do
		name=$(basename "$f" .ptx)
		grep -q '`' "$f" && die "$f contains a backquote"
		{
			echo
			echo "const ${name}PTX = \`"
			cat "$f"
			echo "\`"
		} >>"$out"
	done
	rm -rf "$tmpd"
	gofmt -w "$out" 2>/dev/null || go fmt "$out" >/dev/null 2>&1 || true
}

# pipeline ROOT: everything after the toolchain is in place.
pipeline() {
	local root=$1 arch report
	cd "$root"
	report=${OUT:-$root/build/cuda/report}
	mkdir -p "$report"
	log "CUDA environment"
	cuda_env "$root"
	arch=$(gpu_arch)
	nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv | tee "$report/gpu.csv" >&2
	nvcc --version | tail -n2 >&2

	log "patching gorgonia.org/cu and gorgonia"
	"$root/scripts/cuda/prepare.sh"
	local modfile="$root/build/cuda/go.mod"

	log "PTX for compute_$arch"
	gen_cudamodules "$root/build/cuda/mod/gorgonia@v0.9.18" "$arch"
	local cu
	for cu in "$root"/ops/kernels/*.cu; do
		ptx "$cu" "${cu%.cu}.ptx" "$arch"
	done
	ls -l "$root"/ops/kernels/*.ptx >&2

	log "go build -tags cuda"
	go build -tags cuda -modfile="$modfile" -o bin/stn3d-cuda ./cmd/stn3d
	go build -tags cuda -modfile="$modfile" -o bin/cuda-check ./scripts/cuda/check

	log "GPU vs CPU op check"
	local rc=0
	./bin/cuda-check 2>&1 | tee "$report/check.txt" || rc=$?
	if [ "$rc" != 0 ] && grep -q 'SIGSEGV\|segmentation' "$report/check.txt" && [ "${STN3D_CUDA_POOL:-device}" = device ]; then
		log "check crashed with device memory; retrying with STN3D_CUDA_POOL=managed (bounded)"
		export STN3D_CUDA_POOL=managed
		rc=0
		./bin/cuda-check 2>&1 | tee "$report/check-managed.txt" || rc=$?
	fi
	[ "$rc" = 0 ] || die "op check failed (exit $rc); see $report/check*.txt"

	[ "${SKIP_TRAIN:-0}" = 1 ] && { log "SKIP_TRAIN=1: done"; return 0; }
	train "$root" "$report"
}

# train ROOT REPORT: configs/paper.yaml on synthetic data, with nvidia-smi
# sampling the memory in use every 500 ms.
train() {
	local root=$1 report=$2 smi=""
	log "training configs/paper.yaml (synthetic data, batch $BATCH, $STEPS steps)"
	nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 500 >"$report/gpu-mem.txt" 2>/dev/null &
	smi=$!
	local rc=0
	# The paper's architecture (VGG-Face localiser at 224x224, 112x112 geometry
	# image) on the embedded model and rendered faces: the licensed model,
	# expression model, AFLW and VGG-Face weights are not on the GPU machine.
	# Bounded by TRAIN_TIMEOUT seconds: the localiser's convolutions are the
	# project's own CPU Conv2D, so a step may take seconds even on a GPU box.
	timeout --signal=INT --kill-after=30 "$TRAIN_TIMEOUT" \
		./bin/stn3d-cuda train --config configs/paper.yaml --out "$report/run" \
		--set model.path=default --set model.expression= --set model.expression_components=4 \
		--set model.use_model_uv=true --set data.kind=synthetic --set data.path= --set data.images= \
		--set localiser.weights= --set train.batch="$BATCH" --set train.steps="$STEPS" \
		--set train.log_every="$(((STEPS + 14) / 15))" --set train.val_every="$STEPS" --set train.checkpoint_every="$STEPS" \
		--set train.val_images=64 2>&1 | tee "$report/train.txt" || rc=$?
	kill "$smi" 2>/dev/null || true
	wait "$smi" 2>/dev/null || true
	local peak
	peak=$(sort -n "$report/gpu-mem.txt" 2>/dev/null | tail -n1)
	echo "peak GPU memory used: ${peak:-?} MiB (nvidia-smi, sampled every 500 ms)" | tee "$report/summary.txt"
	grep -E '^step |images_per_s' "$report/train.txt" | tail -n4 | tee -a "$report/summary.txt" || true
	if [ "$rc" = 124 ] || [ "$rc" = 130 ]; then
		echo "training stopped by TRAIN_TIMEOUT=${TRAIN_TIMEOUT}s; the last progress line above has the steps done" | tee -a "$report/summary.txt"
		return 0
	fi
	[ "$rc" = 0 ] || die "training failed (exit $rc); see $report/train.txt"
}

# gpu BUNDLE: unpack and run the pipeline with the bundled toolchain.
gpu() {
	local b=$1 work
	[ -f "$b" ] || die "bundle $b not found (make it with \`make cuda-bundle\`)"
	work=${WORK:-/tmp/stn3d-cuda}
	rm -rf "$work"
	mkdir -p "$work"
	log "unpacking $b into $work"
	xz -dc "$b" | tar -xf - -C "$work"
	export GOROOT="$work/go" GOMODCACHE="$work/gomod" GOPATH="$work/gopath" GOCACHE="$work/gocache"
	export PATH="$GOROOT/bin:$PATH" GOFLAGS=-mod=mod GOPROXY=off GOSUMDB=off GOTOOLCHAIN=local
	go version >&2
	pipeline "$work/repo"
}

case "${1:-}" in
bundle)
	[ $# = 2 ] || die "usage: build.sh bundle OUT.tar.xz"
	bundle "$2"
	;;
gpu)
	[ $# = 2 ] || die "usage: build.sh gpu BUNDLE.tar.xz"
	gpu "$2"
	;;
local)
	[ -d "$CUDA_HOME" ] || die "CUDA toolkit not found at $CUDA_HOME"
	command -v go >/dev/null || die "go is not installed"
	pipeline "$(cd "$here/../.." && pwd)"
	;;
*)
	die "usage: build.sh bundle OUT.tar.xz | gpu BUNDLE.tar.xz | local"
	;;
esac
