# Shared build logic for a generated network folder (generated/<model>-<arch>/CMakeLists.txt
# includes this file). Kept here, not in every generated folder, so a fix reaches all builds.
#
#   cusnn_add_network(<target> ARCH <70|75|80|86|89|90> KERNELS <file.cu>...)
#
# Builds the generated kernels into a static library `<target>_kernels` and, when configured by
# cmake-js (CMAKE_JS_INC is set) and the native runtime sources exist, the Node addon `<target>`.
include_guard(GLOBAL)

find_package(CUDAToolkit REQUIRED)

# cuDNN 9: explicit -DCUDNN_INCLUDE_DIR/-DCUDNN_LIBRARY_DIR or the same environment variables,
# then system paths, then the nvidia-cudnn-cu13 Python wheel (pip install --no-deps nvidia-cudnn-cu13).
function(cusnn_find_cudnn)
  set(hints_inc $ENV{CUDNN_INCLUDE_DIR} ${CUDNN_INCLUDE_DIR})
  set(hints_lib $ENV{CUDNN_LIBRARY_DIR} ${CUDNN_LIBRARY_DIR})
  find_package(Python3 COMPONENTS Interpreter QUIET)
  if(Python3_FOUND)
    execute_process(
      COMMAND ${Python3_EXECUTABLE} -c "import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__) if nvidia.cudnn.__file__ else list(nvidia.cudnn.__path__)[0])"
      OUTPUT_VARIABLE wheel_dir OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(wheel_dir)
      list(APPEND hints_inc ${wheel_dir}/include)
      list(APPEND hints_lib ${wheel_dir}/lib)
    endif()
  endif()
  find_path(CUSNN_CUDNN_INCLUDE cudnn.h HINTS ${hints_inc}
    PATHS /usr/include/x86_64-linux-gnu /usr/include ${CUDAToolkit_INCLUDE_DIRS})
  find_library(CUSNN_CUDNN_LIB NAMES cudnn libcudnn.so.9 HINTS ${hints_lib}
    PATHS /usr/lib/x86_64-linux-gnu ${CUDAToolkit_LIBRARY_DIR})
  if(NOT CUSNN_CUDNN_INCLUDE OR NOT CUSNN_CUDNN_LIB)
    message(FATAL_ERROR "cuDNN 9 not found: set CUDNN_INCLUDE_DIR and CUDNN_LIBRARY_DIR, "
      "or run: pip install --no-deps nvidia-cudnn-cu13")
  endif()
  message(STATUS "cuDNN: ${CUSNN_CUDNN_INCLUDE}, ${CUSNN_CUDNN_LIB}")
endfunction()

function(cusnn_add_network target)
  cmake_parse_arguments(ARG "" "ARCH" "KERNELS" ${ARGN})
  set(root ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/..)
  add_library(${target}_kernels STATIC ${ARG_KERNELS})
  set_target_properties(${target}_kernels PROPERTIES
    CUDA_ARCHITECTURES ${ARG_ARCH}
    POSITION_INDEPENDENT_CODE ON
    CUDA_SEPARABLE_COMPILATION OFF)
  target_compile_options(${target}_kernels PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-O3 -Xptxas=-v>)
  target_link_libraries(${target}_kernels PUBLIC CUDA::cudart)

  file(GLOB native_sources ${root}/src/native/*.cpp ${root}/src/native/*.cu)
  if(DEFINED CMAKE_JS_INC AND native_sources)
    cusnn_find_cudnn()
    add_library(${target} SHARED ${native_sources} ${CMAKE_JS_SRC})
    set_target_properties(${target} PROPERTIES PREFIX "" SUFFIX ".node" CUDA_ARCHITECTURES ${ARG_ARCH})
    target_include_directories(${target} PRIVATE ${CMAKE_JS_INC} ${CUSNN_CUDNN_INCLUDE} ${root}/node_modules/node-addon-api)
    target_compile_definitions(${target} PRIVATE NAPI_VERSION=8 NAPI_DISABLE_CPP_EXCEPTIONS)
    target_link_libraries(${target} PRIVATE ${target}_kernels ${CUSNN_CUDNN_LIB} CUDA::cublas CUDA::cudart ${CMAKE_JS_LIB})
  endif()
endfunction()
