# Writes one add_test() per doctest case of EXE into OUT.
# A binary that cannot list its cases registers one failing test that says so,
# instead of none (which would pass in silence).
execute_process(COMMAND ${EXE} --list-test-cases --no-version OUTPUT_VARIABLE out ERROR_VARIABLE err
  RESULT_VARIABLE rc)
set(content "")
if(NOT rc EQUAL 0 OR NOT out MATCHES "passing the current filters: +[1-9]")
  string(REGEX REPLACE "[^A-Za-z0-9 _.:/=-]" " " why "exit ${rc}: ${err}")
  string(APPEND content "add_test([=[${LABEL}: listing the test cases of ${EXE}]=] sh -c [=[echo 'FAIL: ${EXE} --list-test-cases: ${why}' >&2; exit 1]=])\n")
  string(APPEND content "set_tests_properties([=[${LABEL}: listing the test cases of ${EXE}]=] PROPERTIES LABELS ${LABEL})\n")
else()
  # A case name may hold ";", CMake's list separator: protect it while splitting lines.
  string(REPLACE ";" "<semicolon>" out "${out}")
  string(REPLACE "\n" ";" lines "${out}")
  foreach(line ${lines})
    string(STRIP "${line}" name)
    if(name STREQUAL "" OR name MATCHES "^\\[doctest\\]" OR name MATCHES "^=+$")
      continue()
    endif()
    # doctest filters treat , as a separator: escape it with one backslash
    # (the filter goes into a bracket argument, taken literally).
    string(REPLACE "," "\\," filter "${name}")
    # In the test's command and name, ";" would split the argument: in the
    # filter it becomes "?" (doctest's any-one-character), in the name ",".
    string(REPLACE "<semicolon>" "?" filter "${filter}")
    string(REPLACE "<semicolon>" "," name "${name}")
    string(APPEND content "add_test([=[${LABEL}: ${name}]=] \"${EXE}\" [=[--test-case=${filter}]=] --no-version)\n")
    # The exit code judges (a sanitizer's report after the summary fails the
    # test), and a filter that selects no case fails too instead of passing.
    string(APPEND content "set_tests_properties([=[${LABEL}: ${name}]=] PROPERTIES LABELS ${LABEL} TIMEOUT 300 FAIL_REGULAR_EXPRESSION [=[test cases: +0 \\|]=])\n")
  endforeach()
endif()
file(WRITE ${OUT} "${content}")
