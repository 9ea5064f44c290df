/* cityhub --test-rules FILE: feeds the series of a rule test file through the rules it names
 * and compares the transitions with the expected ones (docs/alerts.md, "Testing rules"). */
#ifndef HUB_TESTRULES_H
#define HUB_TESTRULES_H

#include <stdio.h>

/* Runs every test of path, reporting to out. Returns 0 when all pass, 1 on a difference,
 * 2 when the file or its rules cannot be read. */
int hub_test_rules(const char *path, FILE *out);

#endif
