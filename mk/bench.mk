# Loopback load test: the no-op ext_proc server (floor) and the engine side by side.
# ENGINE_BIN / ENGINE_CONFIG / ENGINE_ARGS select the engine (see bench/load.sh);
# without ENGINE_BIN the floor is compared with itself.

.PHONY: bench-load

bench-load:
	GO=$(GO) bash bench/load.sh
