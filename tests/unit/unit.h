/* Shared main() for cmocka unit tests.
 *
 *   UNIT_MAIN(tests)        at the end of a test file, with
 *   static const struct CMUnitTest tests[] = { cmocka_unit_test(...), ... };
 *
 * The binary then understands:
 *   test-foo            run every case
 *   test-foo --list     print the case names, one per line
 *   test-foo NAME       run the one case NAME
 * so that the test runner (tests/conftest.py) reports each case on its own.
 */
#ifndef VS_UNIT_H
#define VS_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define UNIT_MAIN_FULL(tests, setup, teardown)                                                    \
	int main(int argc, char **argv)                                                           \
	{                                                                                         \
		if (argc > 1 && strcmp(argv[1], "--list") == 0) {                                \
			for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)             \
				printf("%s\n", tests[i].name);                                    \
			return 0;                                                                 \
		}                                                                                 \
		if (argc > 1)                                                                     \
			cmocka_set_test_filter(argv[1]);                                          \
		return cmocka_run_group_tests(tests, setup, teardown);                            \
	}

#define UNIT_MAIN(tests) UNIT_MAIN_FULL(tests, NULL, NULL)

#endif
