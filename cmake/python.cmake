# The Python package (python/, issue 12): a pybind11 extension over the C++ core plus python/spikesim/*.py,
# built into <build>/python/spikesim/ so `PYTHONPATH=<build>/python /usr/bin/python3 -c "import spikesim"`
# works. Optional: without pybind11 (Debian pybind11-dev, python3-pybind11) the build says so and goes on.
# Sets SPIKESIM_PYTHON_ENABLED, and position-independent code for every component (the extension links the
# static component libraries into a shared object).
set(SPIKESIM_PYTHON_ENABLED OFF)
if(NOT SPIKESIM_PYTHON)
  message(STATUS "spikesim: Python package off (SPIKESIM_PYTHON=OFF)")
  return()
endif()
if(SPIKESIM_SANITIZE OR SPIKESIM_FUZZ)
  # An instrumented extension only loads into a python3 with libasan preloaded, and torch's own allocations
  # then drown the reports: the sanitizer passes test the C++ core, the release pass tests the package.
  message(STATUS "spikesim: Python package not built in sanitizer / fuzz builds (tests labelled no_sanitizer)")
  return()
endif()
# Debian's interpreter, where python3-numpy / python3-torch / python3-pybind11 live (another python3 may come
# first on PATH).
if(NOT DEFINED Python3_EXECUTABLE AND EXISTS /usr/bin/python3)
  set(Python3_EXECUTABLE /usr/bin/python3 CACHE FILEPATH "Python interpreter of the spikesim package")
endif()
find_package(Python3 COMPONENTS Interpreter Development.Module)
if(NOT Python3_FOUND)
  message(STATUS "spikesim: Python 3 development files not found (Debian python3-dev): Python package not built")
  return()
endif()
execute_process(COMMAND ${Python3_EXECUTABLE} -c "import pybind11; print(pybind11.get_cmake_dir())"
                OUTPUT_VARIABLE spikesim_pybind11_dir OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
set(PYBIND11_FINDPYTHON ON)
find_package(pybind11 2.6 CONFIG QUIET HINTS ${spikesim_pybind11_dir})
if(NOT pybind11_FOUND)
  message(STATUS "spikesim: pybind11 not found (Debian pybind11-dev python3-pybind11): Python package not built")
  return()
endif()
message(STATUS "spikesim: Python package for ${Python3_EXECUTABLE} (pybind11 ${pybind11_VERSION})")
set(SPIKESIM_PYTHON_ENABLED ON)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
# -fPIC alone lets GCC assume any global function may be interposed, so it stops inlining them: the float
# code (FMA contraction, summation) then differs in the last bits from the PIE build and the byte-identical
# pipeline goldens fail. Without interposition the inlining is the PIE build's again.
add_compile_options(-fno-semantic-interposition)
