# pulse-harden — `make help` lists the targets.
SHELL := bash
CARGO ?= cargo
TOOLS := $(CURDIR)/.tools/bin
SHARED ?= $(CURDIR)/../shared
PREFIX ?= $(HOME)/.local

.PHONY: help build release test unit lint fmt bless example install tools oracle clean fuzz fuzz-install test-hostile-full

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## debug build
	$(CARGO) build

release: ## optimised build (target/release/pulse-harden)
	$(CARGO) build --release --locked

example: release ## harden the bundled example stream and print the result
	./target/release/pulse-harden -p examples/patches.yaml -f examples/rendered.yaml

tools: ## fetch real Helm 4.1.4, Helm 3.17.1 and kubectl into .tools/bin
	./scripts/fetch-tools.sh

oracle: ## build the goyaml oracle (what Kubernetes reads from YAML) into .tools/bin
	./scripts/build-oracle.sh $(SHARED)/tools/goyaml-oracle

test: lint tools oracle ## everything CI runs: lint, unit, golden, fidelity and real-helm tests
	PATH="$(TOOLS):$$PATH" GOYAML_ORACLE=$(TOOLS)/goyaml-oracle $(CARGO) test --locked

unit: ## only the fast tests that need no external tool
	$(CARGO) test --locked --lib --test golden

lint: ## rustfmt and clippy, warnings are errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

fmt: ## format the code
	$(CARGO) fmt --all

bless: ## regenerate golden expectations (review the diff before committing)
	BLESS=1 $(CARGO) test --test golden

FUZZ_TARGETS := stream_roundtrip patchfile_parse engine
FUZZ_TIME ?= 60
# cargo-fuzz needs nightly-only compiler flags; RUSTC_BOOTSTRAP lets the stable toolchain take them.
FUZZ := RUSTC_BOOTSTRAP=1 $(CARGO) fuzz

fuzz-install: ## install cargo-fuzz (libFuzzer driver) from crates.io
	$(CARGO) install --locked cargo-fuzz

fuzz: ## fuzz every target for FUZZ_TIME seconds each (default 60), seeded, from fuzz/seeds
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/corpus/$$t && \
		echo "== fuzz $$t for $(FUZZ_TIME)s" && \
		$(FUZZ) run $$t fuzz/corpus/$$t fuzz/seeds/$$t -- \
			-seed=1 -max_total_time=$(FUZZ_TIME) -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
			|| exit 1; \
	done

test-hostile-full: ## the hostile-input tests at full size (a 100 MB scalar, ...), release build
	$(CARGO) test --release --test hostile -- --include-ignored

install: release ## install the binary into $(PREFIX)/bin
	install -D -m 0755 target/release/pulse-harden $(PREFIX)/bin/pulse-harden

clean: ## remove build output and fetched tools
	$(CARGO) clean
	rm -rf .tools
