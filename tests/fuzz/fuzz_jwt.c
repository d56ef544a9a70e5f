/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * libFuzzer: arbitrary bytes as the Authorization header value, through one
 * verifier built once from a small JWKS (RSA "rsa1", oct "hs1") that allows
 * HS256, RS256 and ES256 with issuer, audience and a required claim. The seed
 * corpus holds tokens signed with these keys (made by tests/e2e/jwtmint).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../user/proxy/jwt.h"

/* public half of the keys the seed tokens were signed with */
static const char jwks[] =
	"{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"rsa1\",\"use\":\"sig\",\"e\":\"AQAB\",\"n\":"
	"\"wouMXQpKhwXpUkkZd673IjaZunddin-B0mju5B9w7bi7aQ5xLTXV_c6_xYAV"
	"azyb4rFIpregbUhyea_8d0dlTuyw_CZlsUmIDr9ABto8VvmMVcFD-lY_xn-PNkre"
	"ik6qSerPTTrUNhhXasYQChaF_0DHeK-F_g5QALGvZ0bBo3w22buExBegVfEMEHsv"
	"rv6dE0NQRGUW4oKUDFIOQyhOUgf_5GGZOGh_rkohavZmlfM3IxQ4ufPXTTQNoDfj"
	"SnhSl8hqrP2RyM_PhGdXL7BrxmXAbhRprd5ByueWAgQAE3TY_LEqLlL_rLXWA1ut"
	"YW1g3zHdhpLYMb5HEHOm3HHeIw"
	"\"},{\"kty\":\"oct\",\"kid\":\"hs1\",\"use\":\"sig\",\"k\":"
	"\"fjg6t89aciwx21YfKu2yhsCi0jA9DrQvS36lrJIu8ZpC3G45aozPt_Zv1oNT_1_scJttSRYDhBlpS7s7U0WWxQ\"}]}";

static struct sl_jwt *verifier;

/* Write the JWKS to a temporary file, build the verifier, remove the file. */
static struct sl_jwt *build(void)
{
	char path[] = "/tmp/sluice-fuzz-jwks.XXXXXX", cfg[512], err[256];
	struct sl_jwt *j;
	json_t *obj;
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, jwks, sizeof(jwks) - 1) != (ssize_t)(sizeof(jwks) - 1)) {
		perror("fuzz_jwt: jwks file");
		abort();
	}
	close(fd);
	snprintf(cfg, sizeof(cfg),
		 "{\"jwks\":\"%s\",\"algs\":[\"HS256\",\"RS256\",\"ES256\"],"
		 "\"issuer\":\"https://idp.example\",\"audience\":[\"api\",\"web\"],"
		 "\"required_claims\":[\"sub\"],\"leeway_s\":5,\"cache_size\":64,"
		 "\"reload_interval_ms\":3600000}",
		 path);
	obj = json_loads(cfg, 0, NULL);
	j = sl_jwt_from_json(obj, "fuzz.jwt", err, sizeof(err));
	json_decref(obj);
	unlink(path);
	if (!j) {
		fprintf(stderr, "fuzz_jwt: %s\n", err);
		abort();
	}
	return j;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char sub[16];
	char *copy;

	if (!verifier)
		verifier = build();
	/* a private copy, so reading one byte past the value is caught */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	sl_jwt_verify(verifier, copy, size, 1700000000, sub, sizeof(sub));
	free(copy);
	return 0;
}
