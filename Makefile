# Conveniences over the scripts (the scripts are what the README promises:
# they need nothing but bash on a fresh Debian 12 machine).
.PHONY: demo test bench clean
demo:
	bash scripts/demo.sh
test:
	bash scripts/test.sh
bench:
	bash scripts/bench.sh
clean:
	rm -rf build build-sanitize build-fuzz build-minimal
