# pulse-harden — `make help` lists the targets.
SHELL := bash
CARGO ?= cargo
TOOLS := $(CURDIR)/.tools/bin
SHARED ?= $(CURDIR)/../shared
PREFIX ?= $(HOME)/.local

.PHONY: help build release test unit lint fmt bless example install tools oracle clean bench

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

bench: tools ## time pulse-harden against kustomize, Python+libyaml and a plain YAML round trip (minutes)
	./scripts/bench.sh

install: release ## install the binary into $(PREFIX)/bin
	install -D -m 0755 target/release/pulse-harden $(PREFIX)/bin/pulse-harden

clean: ## remove build output and fetched tools
	$(CARGO) clean
	rm -rf .tools
