# fleetd_proto_library(NAME PROTOS a.proto... [GRPC] [PROTO_ROOT dir] [IMPORT_DIRS dir...]
#                      [DEPS lib...]): generates C++ for PROTOS (paths relative to
# CMAKE_CURRENT_SOURCE_DIR, imported relative to PROTO_ROOT; IMPORT_DIRS hold the .proto files
# they import) into a static library NAME. With GRPC, the gRPC service stubs are generated too.
function(fleetd_proto_library name)
  cmake_parse_arguments(ARG "GRPC" "PROTO_ROOT" "PROTOS;DEPS;IMPORT_DIRS" ${ARGN})
  if(NOT ARG_PROTO_ROOT)
    set(ARG_PROTO_ROOT ${CMAKE_CURRENT_SOURCE_DIR})
  endif()
  set(out_dir ${CMAKE_BINARY_DIR}/gen)
  set(import_args)
  foreach(dir ${ARG_IMPORT_DIRS})
    list(APPEND import_args --proto_path=${dir})
  endforeach()
  set(srcs)
  foreach(proto ${ARG_PROTOS})
    get_filename_component(abs ${proto} ABSOLUTE)
    file(RELATIVE_PATH rel ${ARG_PROTO_ROOT} ${abs})
    string(REGEX REPLACE "\\.proto$" "" stem ${rel})
    set(outputs ${out_dir}/${stem}.pb.cc ${out_dir}/${stem}.pb.h)
    set(plugin_args)
    if(ARG_GRPC)
      list(APPEND outputs ${out_dir}/${stem}.grpc.pb.cc ${out_dir}/${stem}.grpc.pb.h)
      set(plugin_args --grpc_out=${out_dir} --plugin=protoc-gen-grpc=${GRPC_CPP_PLUGIN})
    endif()
    add_custom_command(
      OUTPUT ${outputs}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
      COMMAND protobuf::protoc --proto_path=${ARG_PROTO_ROOT} ${import_args} --cpp_out=${out_dir}
              ${plugin_args}
              ${abs}
      DEPENDS ${abs} protobuf::protoc
      COMMENT "protoc ${rel}"
      VERBATIM)
    list(APPEND srcs ${outputs})
  endforeach()
  add_library(${name} STATIC ${srcs})
  # protoc's files each define the same file-level helpers: never batched together.
  set_target_properties(${name} PROPERTIES UNITY_BUILD OFF)
  target_include_directories(${name} SYSTEM PUBLIC ${out_dir})
  target_link_libraries(${name} PUBLIC protobuf::libprotobuf ${ARG_DEPS})
  if(ARG_GRPC)
    target_link_libraries(${name} PUBLIC gRPC::grpc++)
  endif()
endfunction()
