# The headline is weir linked as an application links it: static archives
# without link-time optimisation (WEIR_LTO=OFF, scripts/bench.sh's
# default). A tree with WEIR_LTO=ON optimises weir and the bench loop
# together; its figures are labelled "lto" (scripts/bench.sh --lto).
if(CMAKE_INTERPROCEDURAL_OPTIMIZATION)
  set(weir_bench_build lto)
else()
  set(weir_bench_build app)
endif()
foreach(b core_bench fanout_bench store_bench bridge_bench kafka_in_bench
          nats_in_bench)
  if(TARGET ${b})
    target_compile_definitions(${b} PRIVATE
      WEIR_BENCH_BUILD="${weir_bench_build}")
  endif()
endforeach()
