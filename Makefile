# pulse-harden — `make help` lists the targets.
SHELL := bash
# Sub-makes print no "Entering directory" lines.
MAKEFLAGS += --no-print-directory
CARGO ?= cargo
TOOLS := $(CURDIR)/.tools/bin
SHARED ?= $(CURDIR)/../shared
PREFIX ?= $(HOME)/.local
# Helm 4, for the plugin targets; never Helm 3 (a v1 plugin.yaml in Helm 3's plugin directory
# stops every Helm 3 plugin from loading).
HELM ?= helm
PLUGIN_DIR := dist/pulse-harden
# Helm 4's data directory for install-plugin, when a Helm 3 shares the default one.
HELM4_DATA_HOME ?=
HELM4 = $(if $(HELM4_DATA_HOME),HELM_DATA_HOME='$(HELM4_DATA_HOME)' )$(HELM)
# Where cargo puts the release binary (CARGO_TARGET_DIR is honoured).
RELEASE_BIN = $(or $(CARGO_TARGET_DIR),target)/release/pulse-harden
# Set to a GnuPG key name to sign the packaged plugin; unsigned tarballs install with --verify=false.
PLUGIN_SIGN_KEY ?=

.PHONY: help build release test unit lint fmt bless example install tools oracle clean preflight
.PHONY: plugin plugin-package install-plugin fuzz fuzz-install test-hostile-full bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

build: ## debug build
	$(CARGO) build

release: ## optimised build (target/release/pulse-harden); its messages go to stderr
	@$(CARGO) build --release --locked

example: release ## harden the bundled example stream and print the result (stdout is only YAML)
	@$(RELEASE_BIN) -p examples/patches.yaml -f examples/rendered.yaml

tools: ## fetch real Helm 4.1.4, Helm 3.17.1 and kubectl into .tools/bin; install docker-registry, skopeo and GNU time
	./scripts/fetch-tools.sh
	./scripts/fetch-schema-validator.sh
	./scripts/fetch-debian-tools.sh

oracle: ## build the goyaml oracle (what Kubernetes reads from YAML) into .tools/bin
	./scripts/build-oracle.sh $(SHARED)/tools/goyaml-oracle

preflight: ## check that what `make test` needs is here or installable, before fetching anything
	@./scripts/preflight.sh '$(SHARED)'

test: preflight lint tools oracle ## everything CI runs: lint, unit, golden, fidelity and real-helm tests
	PATH="$(TOOLS):$$PATH" GOYAML_ORACLE=$(TOOLS)/goyaml-oracle $(CARGO) test --locked
	$(MAKE) test-hostile-full

unit: ## only the fast tests that need no external tool
	$(CARGO) test --locked --lib --test golden

lint: ## rustfmt and clippy, warnings are errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

fmt: ## format the code
	$(CARGO) fmt --all

bless: ## regenerate golden expectations (review the diff before committing)
	BLESS=1 $(CARGO) test --test golden --test report
	BLESS=1 $(CARGO) test --test seeds each_profile_changes_only_what_it_is_for

FUZZ_TARGETS := stream_roundtrip patchfile_parse engine goyaml_differential
FUZZ_TIME ?= 60
# cargo-fuzz needs nightly-only compiler flags; RUSTC_BOOTSTRAP lets the stable toolchain take them.
FUZZ := RUSTC_BOOTSTRAP=1 $(CARGO) fuzz

fuzz-install: ## install cargo-fuzz (libFuzzer driver) from crates.io
	$(CARGO) install --locked cargo-fuzz

fuzz: oracle ## fuzz every target for FUZZ_TIME seconds each (default 60), seeded, from fuzz/seeds
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/corpus/$$t && \
		echo "== fuzz $$t for $(FUZZ_TIME)s" && \
		GOYAML_ORACLE=$(TOOLS)/goyaml-oracle $(FUZZ) run $$t fuzz/corpus/$$t fuzz/seeds/$$t -- \
			-seed=1 -max_total_time=$(FUZZ_TIME) -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
			|| exit 1; \
	done

test-hostile-full: ## the hostile-input tests at full size (a 100 MB scalar, ...), optimised build
	$(CARGO) test --locked --profile hostile --test hostile -- --ignored

bench: tools ## time pulse-harden against kustomize, Python+libyaml and a plain YAML round trip (minutes)
	./scripts/bench.sh

install: release ## install the binary into $(PREFIX)/bin
	install -D -m 0755 $(RELEASE_BIN) $(PREFIX)/bin/pulse-harden

plugin: release ## lay out the Helm 4 plugin in dist/pulse-harden (plugin.yaml + bin/pulse-harden)
	@cargo_version=$$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1); \
	plugin_version=$$(sed -n 's/^version: *//p' plugin.yaml); \
	[ "$$cargo_version" = "$$plugin_version" ] || \
	  { echo "plugin.yaml version $$plugin_version differs from Cargo.toml $$cargo_version" >&2; exit 1; }
	rm -rf $(PLUGIN_DIR)
	install -D -m 0644 plugin.yaml $(PLUGIN_DIR)/plugin.yaml
	install -D -m 0755 $(RELEASE_BIN) $(PLUGIN_DIR)/bin/pulse-harden

plugin-package: plugin ## package the plugin into dist/pulse-harden-<version>.tgz (for this platform)
	$(HELM) plugin package $(PLUGIN_DIR) -d dist \
	  $(if $(PLUGIN_SIGN_KEY),--sign --key '$(PLUGIN_SIGN_KEY)',--sign=false)

install-plugin: ## install the plugin into Helm 4 (refuses Helm 3, and a plugin directory a Helm 3 shares)
	@./scripts/check-plugin-dir.sh '$(HELM)' '$(HELM4_DATA_HOME)'
	$(MAKE) plugin
	@$(HELM4) plugin uninstall pulse-harden >/dev/null 2>&1 || true
	$(HELM4) plugin install $(PLUGIN_DIR)

clean: ## remove build output and fetched tools
	$(CARGO) clean
	rm -rf .tools
