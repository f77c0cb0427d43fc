# Shared build logic for a generated network folder (generated/<model>-<arch>/CMakeLists.txt
# includes this file). Kept here, not in every generated folder, so a fix reaches all builds.
#
#   cusnn_add_network(<target> ARCH <70|75|80|86|89|90> KERNELS <file.cu>...)
#
# Builds the generated kernels into a static library `<target>_kernels` and, when configured by
# cmake-js (CMAKE_JS_INC is set) and the native runtime sources exist, the Node addon
# `<target>.node` (src/native: executor, cuDNN/cuBLAS ops, CUDA graphs, N-API binding).
#
# -DCUSNN_CUDA_ARCH=<nn> overrides the folder's ARCH (CUDA 13 cannot target sm_70: an sm_70
# folder is built for a newer GPU with e.g. -DCUSNN_CUDA_ARCH=90; `cusnn-gen build --arch`).
#
# cuDNN 9 and cuBLAS are searched, in order: -DCUDNN_INCLUDE_DIR/-DCUDNN_LIBRARY_DIR (and
# CUBLAS_INCLUDE_DIR/CUBLAS_LIBRARY_DIR) or the same environment variables; the project-local
# wheels (.deps/cudnn or .deps/cuda, made by
#   python3 -m pip install --no-deps --target .deps/cudnn nvidia-cudnn-cu13 nvidia-cublas);
# the CUDA toolkit and system paths; the Python wheels importable by python3. The addon gets an
# rpath to every library folder found, so it loads without LD_LIBRARY_PATH.
include_guard(GLOBAL)

find_package(CUDAToolkit REQUIRED)

set(CUSNN_CUDA_ARCH "" CACHE STRING "override the generated folder's CUDA architecture (e.g. 90)")

# Folders of the NVIDIA Python wheels: project-local (.deps) first, then what python3 imports.
function(cusnn_wheel_roots out root)
  set(roots "")
  foreach(d ${root}/.deps/cudnn/nvidia ${root}/.deps/cuda/nvidia)
    if(IS_DIRECTORY ${d})
      list(APPEND roots ${d})
    endif()
  endforeach()
  find_package(Python3 COMPONENTS Interpreter QUIET)
  if(Python3_FOUND)
    execute_process(
      COMMAND ${Python3_EXECUTABLE} -c "import nvidia; print(';'.join(list(nvidia.__path__)))"
      OUTPUT_VARIABLE py_roots OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(py_roots)
      list(APPEND roots ${py_roots})
    endif()
  endif()
  set(${out} ${roots} PARENT_SCOPE)
endfunction()

function(cusnn_find_cudnn root)
  cusnn_wheel_roots(wheels ${root})
  set(hints_inc $ENV{CUDNN_INCLUDE_DIR} ${CUDNN_INCLUDE_DIR})
  set(hints_lib $ENV{CUDNN_LIBRARY_DIR} ${CUDNN_LIBRARY_DIR})
  foreach(w ${wheels})
    list(APPEND hints_inc ${w}/cudnn/include)
    list(APPEND hints_lib ${w}/cudnn/lib)
  endforeach()
  find_path(CUSNN_CUDNN_INCLUDE cudnn.h HINTS ${hints_inc}
    PATHS /usr/include/x86_64-linux-gnu /usr/include ${CUDAToolkit_INCLUDE_DIRS})
  find_library(CUSNN_CUDNN_LIB NAMES cudnn libcudnn.so.9 HINTS ${hints_lib}
    PATHS /usr/lib/x86_64-linux-gnu ${CUDAToolkit_LIBRARY_DIR})
  if(NOT CUSNN_CUDNN_INCLUDE OR NOT CUSNN_CUDNN_LIB)
    message(FATAL_ERROR "cuDNN 9 not found: set CUDNN_INCLUDE_DIR and CUDNN_LIBRARY_DIR, or run "
      "(in the package root): python3 -m pip install --no-deps --target .deps/cudnn nvidia-cudnn-cu13 nvidia-cublas")
  endif()
  message(STATUS "cuDNN: ${CUSNN_CUDNN_INCLUDE}, ${CUSNN_CUDNN_LIB}")
endfunction()

# cuBLAS: the toolkit's (CUDA::cublas) when it has one, else a wheel (nvidia-cublas: nvidia/cu13).
function(cusnn_find_cublas root)
  cusnn_wheel_roots(wheels ${root})
  set(hints_inc $ENV{CUBLAS_INCLUDE_DIR} ${CUBLAS_INCLUDE_DIR})
  set(hints_lib $ENV{CUBLAS_LIBRARY_DIR} ${CUBLAS_LIBRARY_DIR})
  if(TARGET CUDA::cublas AND NOT hints_inc)
    get_target_property(lib CUDA::cublas IMPORTED_LOCATION)
    if(lib AND EXISTS ${lib})
      set(CUSNN_CUBLAS_INCLUDE ${CUDAToolkit_INCLUDE_DIRS} CACHE PATH "cuBLAS headers")
      set(CUSNN_CUBLAS_LIB ${lib} CACHE FILEPATH "cuBLAS library")
    endif()
  endif()
  foreach(w ${wheels})
    list(APPEND hints_inc ${w}/cu13/include ${w}/cublas/include)
    list(APPEND hints_lib ${w}/cu13/lib ${w}/cublas/lib)
  endforeach()
  find_path(CUSNN_CUBLAS_INCLUDE cublas_v2.h HINTS ${hints_inc} PATHS ${CUDAToolkit_INCLUDE_DIRS} /usr/include)
  find_library(CUSNN_CUBLAS_LIB NAMES cublas libcublas.so.13 libcublas.so.12 HINTS ${hints_lib}
    PATHS ${CUDAToolkit_LIBRARY_DIR} /usr/lib/x86_64-linux-gnu)
  if(NOT CUSNN_CUBLAS_INCLUDE OR NOT CUSNN_CUBLAS_LIB)
    message(FATAL_ERROR "cuBLAS not found: set CUBLAS_INCLUDE_DIR and CUBLAS_LIBRARY_DIR, or run "
      "(in the package root): python3 -m pip install --no-deps --target .deps/cudnn nvidia-cudnn-cu13 nvidia-cublas")
  endif()
  message(STATUS "cuBLAS: ${CUSNN_CUBLAS_INCLUDE}, ${CUSNN_CUBLAS_LIB}")
endfunction()

# Kernel translation units in batches (CMake 3.25 has no unity builds for CUDA): nvcc spends ~1.5 s
# per unit before its first kernel (headers, host pass), so 8 generated kernels in one unit took
# 5.8 s against 8 x 1.5 s apart (2-core machine, CUDA 13, 2026-12-02). At most as many units as
# build jobs (below), so every core compiles one; up to that many kernels stay one unit each. Each kernel
# lives in its own namespace with unique extern "C" names, so including several in one unit is
# safe. A unit is rewritten only when its list changes (configure_file keeps an equal file), and
# nvcc's dependency file makes an edited kernel recompile its unit.
function(cusnn_unity_sources out)
  set(kernels "")
  set(others "")
  foreach(k IN LISTS ARGN)
    if(k MATCHES "registry\\.cu$")
      list(APPEND others ${k})
    else()
      list(APPEND kernels ${k})
    endif()
  endforeach()
  list(LENGTH kernels n)
  # As many units as the build runs jobs (cusnn-gen build passes -j as CUSNN_KERNEL_UNITS; 16 when
  # CMake is run by hand): each unit pays the ~5 s fixed cost once, and more units than cores only
  # add fixed costs (a dense resnet152 on 2 cores: 14 units of one kernel, 6.3 s each, 44 s of the
  # 72 s build).
  set(max_units 16)
  if(DEFINED CUSNN_KERNEL_UNITS AND CUSNN_KERNEL_UNITS GREATER 0)
    set(max_units ${CUSNN_KERNEL_UNITS})
  endif()
  if(n LESS_EQUAL max_units)
    set(${out} ${ARGN} PARENT_SCOPE)
    return()
  endif()
  math(EXPR per "(${n} + ${max_units} - 1) / ${max_units}")
  set(units "")
  set(body "")
  set(count 0)
  set(index 0)
  foreach(k IN LISTS kernels)
    get_filename_component(abs ${k} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    string(APPEND body "#include \"${abs}\"\n")
    math(EXPR count "${count} + 1")
    if(count EQUAL per)
      cusnn_write_unit(${index} "${body}" unit)
      list(APPEND units ${unit})
      set(body "")
      set(count 0)
      math(EXPR index "${index} + 1")
    endif()
  endforeach()
  if(count GREATER 0)
    cusnn_write_unit(${index} "${body}" unit)
    list(APPEND units ${unit})
  endif()
  set(${out} ${others} ${units} PARENT_SCOPE)
endfunction()

function(cusnn_write_unit index body out)
  set(dir ${CMAKE_CURRENT_BINARY_DIR}/cusnn_units)
  file(WRITE ${dir}/unit_${index}.cu.in "// Generated kernels compiled as one unit (cmake/cusnn.cmake cusnn_unity_sources).\n${body}")
  configure_file(${dir}/unit_${index}.cu.in ${dir}/unit_${index}.cu COPYONLY)
  set(${out} ${dir}/unit_${index}.cu PARENT_SCOPE)
endfunction()

function(cusnn_add_network target)
  cmake_parse_arguments(ARG "" "ARCH" "KERNELS" ${ARGN})
  set(root ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/..)
  get_filename_component(root ${root} ABSOLUTE)
  set(arch ${ARG_ARCH})
  if(CUSNN_CUDA_ARCH)
    set(arch ${CUSNN_CUDA_ARCH})
    message(STATUS "${target}: generated for sm_${ARG_ARCH}, built for sm_${arch} (CUSNN_CUDA_ARCH)")
  endif()
  cusnn_unity_sources(sources ${ARG_KERNELS})
  add_library(${target}_kernels STATIC ${sources})
  set_target_properties(${target}_kernels PROPERTIES
    CUDA_ARCHITECTURES ${arch}
    POSITION_INDEPENDENT_CODE ON
    CUDA_SEPARABLE_COMPILATION OFF)
  target_compile_options(${target}_kernels PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-O3 -Xptxas=-v>)
  target_link_libraries(${target}_kernels PUBLIC CUDA::cudart)

  file(GLOB native_sources ${root}/src/native/*.cpp ${root}/src/native/*.cu)
  if(DEFINED CMAKE_JS_INC AND native_sources)
    cusnn_find_cudnn(${root})
    cusnn_find_cublas(${root})
    add_library(${target} SHARED ${native_sources} ${CMAKE_JS_SRC})
    set_target_properties(${target} PROPERTIES
      PREFIX "" SUFFIX ".node"
      CUDA_ARCHITECTURES ${arch}
      POSITION_INDEPENDENT_CODE ON
      CXX_STANDARD 17 CUDA_STANDARD 17)
    target_include_directories(${target} PRIVATE ${CMAKE_JS_INC} ${CUSNN_CUDNN_INCLUDE} ${CUSNN_CUBLAS_INCLUDE}
      ${root}/node_modules/node-addon-api ${root}/src/native)
    target_compile_definitions(${target} PRIVATE NAPI_VERSION=8 NAPI_CPP_EXCEPTIONS NODE_ADDON_API_DISABLE_DEPRECATED
      CUSNN_BUILD_ARCH=${arch} CUSNN_GENERATED_ARCH=${ARG_ARCH})
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-O3> $<$<COMPILE_LANGUAGE:CXX>:-O2 -Wall -Wno-deprecated-declarations>
      $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wno-deprecated-declarations>)
    # The generated kernels come in whole (the registry pulls every launcher; cusnn_info_<name> is
    # looked up with dlsym to check each kernel against its step).
    target_link_libraries(${target} PRIVATE ${target}_kernels ${CUSNN_CUDNN_LIB} ${CUSNN_CUBLAS_LIB} CUDA::cudart dl ${CMAKE_JS_LIB})
    get_filename_component(cudnn_dir ${CUSNN_CUDNN_LIB} DIRECTORY)
    get_filename_component(cublas_dir ${CUSNN_CUBLAS_LIB} DIRECTORY)
    set(rpath ${cudnn_dir} ${cublas_dir} ${CUDAToolkit_LIBRARY_DIR})
    list(REMOVE_DUPLICATES rpath)
    set_target_properties(${target} PROPERTIES BUILD_RPATH "${rpath}" INSTALL_RPATH "${rpath}")
  endif()
endfunction()
