// Root-only tests. Each test case runs in a network namespace of its own
// (see tests/integration/netns_fixture.hpp), never in the machine's.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
