# tsvisor: `make run` runs one command sandboxed over the host root; `make test` builds and passes all tests.
# Both set up a fresh machine first (Debian packages, npm dependencies, the native addon).
SHELL := /bin/bash
PREFIX ?= /usr/local
CMD ?= uname -a; ls /; echo hi > /tmp/tsvisor-demo; cat /tmp/tsvisor-demo; ls /proc
DEBIAN_PACKAGES := busybox-static iperf3 libseccomp2 runc strace iproute2 curl netcat-openbsd nftables \
                   slirp4netns passt diod gcc make python3 g++

.PHONY: all deps build run test test-long install bench fuzz clean
all: build

# Installs only what is missing, so it is cheap to run every time.
deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# npm ci also builds the native addon (its install script runs node-gyp).
node_modules/.package-lock.json: package.json package-lock.json packages/*/package.json
	npm ci --no-fund --no-audit
	@touch $@

NATIVE := packages/native/build/Release/tsvisor_native.node
$(NATIVE): node_modules/.package-lock.json packages/native/binding.gyp $(wildcard packages/native/src/*.c packages/native/src/*.h)
	npm run --silent build -w @tsvisor/native
	@touch $@

build: deps node_modules/.package-lock.json $(NATIVE)
	npx tsc -b

run: build
	./bin/runsc do -- /bin/sh -c '$(CMD)'

test: build
	npx vitest run $(VITEST_ARGS)

# The long suites: multi-seed TCP soaks, 1 GB transfers (about 10-20 minutes).
test-long: build
	TSVISOR_LONG=1 npx vitest run $(VITEST_ARGS)

install: build
	ln -sf $(CURDIR)/bin/runsc $(PREFIX)/bin/runsc
	ln -sf $(CURDIR)/bin/netstack $(PREFIX)/bin/netstack

bench: build
	node bench/dist/run.js

fuzz: build
	TSVISOR_FUZZ_ITERATIONS=200000 npx vitest run fuzz

clean:
	rm -rf packages/*/dist packages/native/build node_modules
