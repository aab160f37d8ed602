# stn3d build, test and benchmark targets. `make help` lists them.
GO      ?= go
BIN     ?= bin/stn3d
PKGS    := ./...
# OpenBLAS speeds up training ~2x; it is used automatically when the library
# is installed (Debian: libopenblas-dev) and can be forced off with BLAS=gonum.
BLAS    ?= $(shell (ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so ') && echo openblas || echo gonum)
ifeq ($(BLAS),openblas)
TAGS    ?= openblas
export CGO_LDFLAGS := -lopenblas
endif
TAGS    ?=
GOFLAGS_TAGS := $(if $(TAGS),-tags $(TAGS),)
# Gorgonia reallocates every register each step; a soft memory limit keeps the
# heap from overshooting on 24 GiB machines.
export GOMEMLIMIT ?= 8GiB

.PHONY: all build test test-short bench lint fmt vet train eval cuda clean help fuzz killtest detector-weights detector-eval weights

all: lint test build

help:
	@echo "make build   - build $(BIN) (BLAS=$(BLAS))"
	@echo "make train   - train on the embedded default (configs/default.yaml) into runs/default"
	@echo "make eval    - evaluate runs/default on the synthetic validation split"
	@echo "make test    - go vet + all tests (the CI command)"
	@echo "make bench   - benchmarks of every op, the STN and a training step"
	@echo "make lint    - gofmt + go vet + errcheck + the atomic-writer check"
	@echo "make fuzz    - every reader's fuzz target for FUZZTIME each (default $(FUZZTIME))"
	@echo "make killtest - SIGKILL a tiny training run 20 times, resume, compare with an uninterrupted run"
	@echo "make weights - retrain the embedded default model (configs/default.yaml) and export it to $(WEIGHTS_FILE)"
	@echo "make detector-weights - retrain the embedded face detector (configs/detector/detector.yaml; needs ../shared)"
	@echo "make detector-eval    - measure the face detector on the shared photographs"

# The source revision goes into the binary (stn3d version, and the weights
# files it exports); the environment may turn Go's own VCS stamp off.
COMMIT   := $(shell git rev-parse HEAD 2>/dev/null)
MODIFIED := $(shell git diff --quiet HEAD -- 2>/dev/null && echo false || echo true)
LDFLAGS  := -X main.commit=$(COMMIT) -X main.commitModified=$(MODIFIED)

build:
	$(GO) build $(GOFLAGS_TAGS) -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/stn3d

train: build
	./$(BIN) train --config configs/default.yaml --out runs/default

eval: build
	./$(BIN) eval --config configs/default.yaml --checkpoint runs/default --split val --force

test: lint
	$(GO) test -count=1 -timeout 60m $(GOFLAGS_TAGS) $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

bench:
	$(GO) test $(GOFLAGS_TAGS) -run '^$$' -bench . -benchmem -benchtime=3x ./ops/ ./graph/ ./bfm/ ./dataset/
	$(GO) test $(GOFLAGS_TAGS) -run '^$$' -bench Detect640x480 -benchmem -benchtime=50x ./graph/detect/
	$(GO) test $(GOFLAGS_TAGS) -run '^$$' -bench 'InferEmbedded|MeshExport' -benchmem -benchtime=30x ./graph/run/

# The face detector's embedded weights, retrained from configs/detector/detector.yaml
# (seeded; about 35 min on 2 cores) on the shared photographs' training
# part, then measured on the held-out ones.
DETECTOR_WEIGHTS ?= graph/detect/detector.weights
detector-weights: build
	./$(BIN) detector train --config configs/detector/detector.yaml --out $(DETECTOR_WEIGHTS)
	$(GO) build $(GOFLAGS_TAGS) -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/stn3d
	./$(BIN) detector eval --weights $(DETECTOR_WEIGHTS)

detector-eval: build
	./$(BIN) detector eval

# The default model embedded in the binary (graph/run/default.weights):
# retrained from configs/default.yaml into $(WEIGHTS_RUN) (~20 min on 2
# cores; --force starts that run again) and exported as float16. Training is
# bit-reproducible on a machine kind: the export says whether the weights
# are bit-identical to those embedded in the binary that trained them.
WEIGHTS_RUN  ?= runs/weights
WEIGHTS_FILE ?= graph/run/default.weights
weights: build
	./$(BIN) train --config configs/default.yaml --out $(WEIGHTS_RUN) --force
	./$(BIN) weights export --run $(WEIGHTS_RUN) --out $(WEIGHTS_FILE)

# errcheck finds dropped errors (-blank: `_ =` too) outside tests;
# scripts/errcheck-excludes.txt lists the calls exempt and why. Files are
# written only through internal/atomicfile (and the append-only metrics
# log, whose Close is checked): a grep keeps other writers out.
ERRCHECK_VERSION := v1.30.0
ERRCHECK := $(shell $(GO) env GOPATH)/bin/errcheck

lint: $(ERRCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(ERRCHECK) -blank -ignoretests -exclude scripts/errcheck-excludes.txt $(PKGS)
	@out=$$(grep -rn --include='*.go' -E 'os\.(Create|WriteFile)\(|os\.OpenFile\(' . | grep -v '_test\.go:' \
		| grep -v -e '^./internal/atomicfile/' -e '^./graph/run/train.go:.*metrics log' ); \
	if [ -n "$$out" ]; then echo "write files through internal/atomicfile:"; echo "$$out"; exit 1; fi

# Fuzz targets of every reader of user files, PACKAGE:TARGET, one at a time
# (go test -fuzz takes one target per run). New inputs that fail are saved
# under PACKAGE/testdata/fuzz/TARGET/ and then run by every `go test`.
# -fuzzminimizetime bounds the minimisation of each new interesting input
# (Go's default, 60s, stalls the targets whose inputs are kilobytes).
FUZZTIME ?= 30s
FUZZFLAGS ?= -fuzzminimizetime=5s
FUZZ_TARGETS := \
	./dataset:FuzzDecodeImage ./dataset:FuzzParsePTS ./dataset:FuzzReadLJSON \
	./dataset:FuzzDlibXML ./dataset:FuzzManifestJSONL ./dataset:FuzzManifestCSV \
	./dataset:FuzzAFLWRows \
	./bfm:FuzzReadOBJ ./bfm:FuzzReadANL ./bfm:FuzzLoadGrid ./bfm:FuzzReadEOS \
	./bfm:FuzzReadBFM2017 ./bfm/mat5:FuzzDecode ./bfm/hdf5:FuzzOpen \
	./graph:FuzzDecodeWeights ./graph:FuzzDecodeCheckpoint \
	./graph/run:FuzzParseConfig ./graph/run:FuzzDecodePretrained

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; echo "== $$fn in $$pkg for $(FUZZTIME)"; \
		$(GO) test $(GOFLAGS_TAGS) -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $(FUZZFLAGS) $$pkg || exit 1; \
	done

# Kill test (not part of `make test`: minutes): scripts/killtest.sh.
KILLS ?= 20
killtest: build
	KILLS=$(KILLS) BIN=$(BIN) scripts/killtest.sh

$(ERRCHECK):
	$(GO) install github.com/kisielk/errcheck@$(ERRCHECK_VERSION)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin

# CUDA build (issue 6; scripts/cuda/README.md): patched gorgonia.org/cu and
# gorgonia for CUDA 13 / cuDNN 9, PTX compiled with nvcc for the local GPU,
# bin/stn3d-cuda, the GPU-vs-CPU op check and a short training run. Needs the
# CUDA toolkit (CUDA_HOME, default /usr/local/cuda).
cuda:
	scripts/cuda/build.sh local

# A tarball for a GPU machine without Go or network: toolchain, module cache
# subset and the repository at HEAD. There: scripts/cuda/build.sh gpu FILE.
.PHONY: cuda-bundle
cuda-bundle:
	scripts/cuda/build.sh bundle build/cuda-bundle.tar.xz
