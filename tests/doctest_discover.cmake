# Registers every doctest case of TARGET as its own ctest test with LABEL.
# (doctest's own doctest_discover_tests needs the binary at configure time;
# this lists cases at test time through a small script instead.)
function(podnet_discover_tests target label)
  set(script ${CMAKE_CURRENT_BINARY_DIR}/${target}_tests.cmake)
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -D EXE=$<TARGET_FILE:${target}> -D OUT=${script} -D LABEL=${label}
            -P ${PROJECT_SOURCE_DIR}/tests/doctest_list.cmake
    VERBATIM)
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${script})
endfunction()
