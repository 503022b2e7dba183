/* What every Check suite here shares: its main(), and the one-case suite
 * that runs a table test over each of its rows. */
#ifndef HE_TEST_CHECK_H
#define HE_TEST_CHECK_H

#include <check.h>

/* A suite NAME with one test case, "core", running test over rows 0..rows. */
static inline Suite *he_check_table_suite(const char *name, const TTest *test, int rows) {
    Suite *s = suite_create(name);
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test, 0, rows);
    suite_add_tcase(s, tc);
    return s;
}

/* main(): runs suite_fn()'s suite (CK_FORK from the environment, as make
 * check sets it) and exits 1 when a test failed. */
#define HE_CHECK_MAIN(suite_fn)                                                                    \
    int main(void) {                                                                               \
        SRunner *sr = srunner_create(suite_fn());                                                  \
        srunner_run_all(sr, CK_NORMAL);                                                            \
        int failed = srunner_ntests_failed(sr);                                                    \
        srunner_free(sr);                                                                          \
        return failed == 0 ? 0 : 1;                                                                \
    }

#endif
