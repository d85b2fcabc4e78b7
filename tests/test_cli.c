/* test_cli.c — the command line's own behaviour: help, version, bad input. */
#include "testutil.h"

#include <string.h>

static void test_version(void **state) {
    char out[4096];
    assert_int_equal(tu_run(TU_BIN " --version", out, sizeof out), 0);
    assert_non_null(strstr(out, "autoinfer "));
}

static void test_help_lists_commands(void **state) {
    char out[4096];
    assert_int_equal(tu_run(TU_BIN " --help", out, sizeof out), 0);
    assert_non_null(strstr(out, "generate"));
    assert_non_null(strstr(out, "eval"));
    assert_non_null(strstr(out, "optimise"));
}

static void test_unknown_command(void **state) {
    char out[4096];
    assert_int_equal(tu_run(TU_BIN " frobnicate", out, sizeof out), 2);
    assert_non_null(strstr(out, "unknown command 'frobnicate'"));
}

static void test_no_args_is_usage(void **state) {
    char out[4096];
    assert_int_equal(tu_run(TU_BIN, out, sizeof out), 2);
    assert_non_null(strstr(out, "usage:"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_help_lists_commands),
        cmocka_unit_test(test_unknown_command),
        cmocka_unit_test(test_no_args_is_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
