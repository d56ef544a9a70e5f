/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sl_jwt (user/proxy/jwt.c): JWS verification for the 8 algorithms, algorithm
 * refusals (none, allow-list, confusion), claims, JWKS reloads, the verified-token
 * cache and configuration errors. Keys are made here with OpenSSL and written to a
 * temporary directory that the group teardown removes.
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "check.h"
#include "../../user/proxy/jwt.h"

#define NOW ((time_t)1700000000)
#define ALL_ALGS "[\"HS256\",\"HS384\",\"HS512\",\"RS256\",\"RS384\",\"RS512\",\"ES256\",\"ES384\"]"

static char dir[64];
static char jwks_path[128], pem_path[128];
static EVP_PKEY *rsa1, *rsa2, *ec1, *ec2;
static unsigned char hs1[64];
static json_t *jwk_rsa1, *jwk_rsa2, *jwk_ec1, *jwk_ec2, *jwk_hs1;
static char *rsa_pub_pem;
static size_t rsa_pub_pem_len;

/* fake monotonic clock for JWKS pacing */
static uint64_t fake_ms;
static uint64_t fake_clock(void)
{
	return __atomic_load_n(&fake_ms, __ATOMIC_RELAXED);
}

/* per-test allocations, released by the teardown */
static char *pool[64];
static int npool;
static struct sl_jwt *verifiers[8];
static int nverifiers;

static char *keep(char *s)
{
	assert_non_null(s);
	assert_true(npool < (int)(sizeof(pool) / sizeof(pool[0])));
	pool[npool++] = s;
	return s;
}

static char *b64u(const void *in, size_t len)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = in;
	char *out = malloc(len / 3 * 4 + 5), *o = out;
	uint32_t acc = 0;
	size_t i;
	int bits = 0;

	assert_non_null(out);
	for (i = 0; i < len; i++) {
		acc = (acc << 8) | p[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			*o++ = abc[(acc >> bits) & 63];
		}
	}
	if (bits)
		*o++ = abc[(acc << (6 - bits)) & 63];
	*o = '\0';
	return out;
}

/* ---- keys and the JWKS file ---- */

static char *bn_param(EVP_PKEY *k, const char *name, int pad)
{
	unsigned char buf[600];
	BIGNUM *bn = NULL;
	int n;

	assert_true(EVP_PKEY_get_bn_param(k, name, &bn));
	n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
	BN_free(bn);
	assert_true(n > 0);
	return b64u(buf, (size_t)n);
}

static json_t *jwk(EVP_PKEY *k, const char *kid)
{
	json_t *j = json_object();
	char *a, *b;

	if (EVP_PKEY_is_a(k, "RSA")) {
		a = bn_param(k, OSSL_PKEY_PARAM_RSA_N, 0);
		b = bn_param(k, OSSL_PKEY_PARAM_RSA_E, 0);
		json_object_set_new(j, "kty", json_string("RSA"));
		json_object_set_new(j, "n", json_string(a));
		json_object_set_new(j, "e", json_string(b));
	} else {
		int flen = EVP_PKEY_get_bits(k) / 8;

		a = bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, flen);
		b = bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, flen);
		json_object_set_new(j, "kty", json_string("EC"));
		json_object_set_new(j, "crv", json_string(flen == 32 ? "P-256" : "P-384"));
		json_object_set_new(j, "x", json_string(a));
		json_object_set_new(j, "y", json_string(b));
	}
	free(a);
	free(b);
	json_object_set_new(j, "kid", json_string(kid));
	return j;
}

/* Replace the JWKS file atomically (rename: a new inode) with these keys. */
static void write_jwks(json_t *k0, json_t *k1, json_t *k2, json_t *k3)
{
	json_t *keys = json_array(), *root;
	json_t *ks[] = { k0, k1, k2, k3 };
	char tmp[160];
	size_t i;

	for (i = 0; i < 4; i++)
		if (ks[i])
			json_array_append(keys, ks[i]);
	root = json_pack("{s:o}", "keys", keys);
	snprintf(tmp, sizeof(tmp), "%s/.jwks.tmp", dir);
	assert_int_equal(json_dump_file(root, tmp, 0), 0);
	assert_int_equal(rename(tmp, jwks_path), 0);
	json_decref(root);
}

static void write_raw_jwks(const char *text)
{
	char tmp[160];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/.jwks.tmp", dir);
	f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, jwks_path), 0);
}

static void write_default_jwks(void)
{
	write_jwks(jwk_rsa1, jwk_ec1, jwk_ec2, jwk_hs1);
}

static int group_setup(void **state)
{
	char *k;
	FILE *f;
	size_t i;

	snprintf(dir, sizeof(dir), "/tmp/sluice-test-jwt.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(jwks_path, sizeof(jwks_path), "%s/jwks.json", dir);
	snprintf(pem_path, sizeof(pem_path), "%s/rsa_pub.pem", dir);
	rsa1 = EVP_RSA_gen(2048);
	rsa2 = EVP_RSA_gen(2048);
	ec1 = EVP_EC_gen("P-256");
	ec2 = EVP_EC_gen("P-384");
	if (!rsa1 || !rsa2 || !ec1 || !ec2)
		return -1;
	for (i = 0; i < sizeof(hs1); i++)
		hs1[i] = (unsigned char)(i * 37 + 11);
	jwk_rsa1 = jwk(rsa1, "rsa1");
	jwk_rsa2 = jwk(rsa2, "rsa2");
	jwk_ec1 = jwk(ec1, "ec1");
	jwk_ec2 = jwk(ec2, "ec2");
	k = b64u(hs1, sizeof(hs1));
	jwk_hs1 = json_pack("{s:s, s:s, s:s}", "kty", "oct", "k", k, "kid", "hs1");
	free(k);
	f = fopen(pem_path, "w");
	if (!f || !PEM_write_PUBKEY(f, rsa1) || fclose(f))
		return -1;
	f = fopen(pem_path, "r");
	rsa_pub_pem = malloc(4096);
	rsa_pub_pem_len = fread(rsa_pub_pem, 1, 4096, f);
	fclose(f);
	write_default_jwks();
	return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int group_teardown(void **state)
{
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	EVP_PKEY_free(rsa1);
	EVP_PKEY_free(rsa2);
	EVP_PKEY_free(ec1);
	EVP_PKEY_free(ec2);
	json_decref(jwk_rsa1);
	json_decref(jwk_rsa2);
	json_decref(jwk_ec1);
	json_decref(jwk_ec2);
	json_decref(jwk_hs1);
	free(rsa_pub_pem);
	return 0;
}

static int test_setup(void **state)
{
	fake_ms = 1000000;
	write_default_jwks();
	return 0;
}

static int test_teardown(void **state)
{
	while (npool)
		free(pool[--npool]);
	while (nverifiers)
		sl_jwt_free(verifiers[--nverifiers]);
	return 0;
}

/* ---- tokens ---- */

enum { T_PAYLOAD = 1, T_SIG = 2 };

static const EVP_MD *md_of(const char *alg)
{
	return !strcmp(alg + 2, "256") ? EVP_sha256() :
	       !strcmp(alg + 2, "384") ? EVP_sha384() :
					 EVP_sha512();
}

/* Sign @in as JWS @alg with @k (RSA, EC: raw r || s) or the HMAC @secret. */
static unsigned char *sign(const char *alg, EVP_PKEY *k, const void *secret, size_t slen,
			   const char *in, size_t *siglen)
{
	unsigned char *sig = malloc(1024);
	size_t len = 1024;

	assert_non_null(sig);
	if (alg[0] == 'H') {
		unsigned int l = 0;

		assert_non_null(HMAC(md_of(alg), secret, (int)slen, (const unsigned char *)in,
				     strlen(in), sig, &l));
		len = l;
	} else {
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		assert_int_equal(EVP_DigestSignInit(md, NULL, md_of(alg), NULL, k), 1);
		assert_int_equal(EVP_DigestSign(md, sig, &len, (const unsigned char *)in,
						strlen(in)),
				 1);
		EVP_MD_CTX_free(md);
		if (alg[0] == 'E') {
			int flen = EVP_PKEY_get_bits(k) / 8;
			const unsigned char *p = sig;
			ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);

			assert_non_null(es);
			assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, flen), flen);
			assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + flen, flen),
					 flen);
			ECDSA_SIG_free(es);
			len = 2 * (size_t)flen;
		}
	}
	*siglen = len;
	return sig;
}

/* "Bearer h.p.s" from header and payload JSON text, signed by the given key. */
static char *mint_with(const char *hdr, const char *pay, const char *alg, EVP_PKEY *k,
		       const void *secret, size_t slen, int flags)
{
	char *h = b64u(hdr, strlen(hdr)), *p = b64u(pay, strlen(pay)), *in, *s, *out;
	unsigned char *sig;
	size_t siglen;

	assert_true(asprintf(&in, "%s.%s", h, p) > 0);
	sig = sign(alg, k, secret, slen, in, &siglen);
	if (flags & T_SIG)
		sig[siglen / 2] ^= 0x01;
	if (flags & T_PAYLOAD) {
		free(p);
		p = b64u("{\"sub\":\"mallory\"}", 17);
	}
	s = b64u(sig, siglen);
	assert_true(asprintf(&out, "Bearer %s.%s.%s", h, p, s) > 0);
	free(h);
	free(p);
	free(in);
	free(s);
	free(sig);
	return keep(out);
}

static EVP_PKEY *key_for(const char *alg)
{
	return alg[0] == 'R' ? rsa1 : !strcmp(alg, "ES256") ? ec1 : ec2;
}

/* A token for @alg signed with the matching test key; @kid NULL: no kid. */
static char *mint_flags(const char *alg, const char *kid, const char *pay, int flags)
{
	char hdr[128];

	if (kid)
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", alg,
			 kid);
	else
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
	return mint_with(hdr, pay, alg, alg[0] == 'H' ? NULL : key_for(alg), hs1, sizeof(hs1),
			 flags);
}

static char *mint(const char *alg, const char *kid, const char *pay)
{
	return mint_flags(alg, kid, pay, 0);
}

/* "Bearer " + three given parts, each already base64url (or deliberately not). */
static char *raw(const char *h, const char *p, const char *s)
{
	char *out;

	assert_true(asprintf(&out, "Bearer %s.%s.%s", h, p, s) > 0);
	return keep(out);
}

static char *b64k(const char *s)
{
	return keep(b64u(s, strlen(s)));
}

/* ---- verifiers ---- */

/* A verifier over the test JWKS with @algs and the members in @extra (",..." or ""). */
static struct sl_jwt *make(const char *algs, const char *extra)
{
	char text[1024], err[256] = "";
	struct sl_jwt *j;
	json_t *obj;

	snprintf(text, sizeof(text), "{\"jwks\":\"%s\",\"algs\":%s%s}", jwks_path, algs, extra);
	obj = json_loads(text, 0, NULL);
	assert_non_null(obj);
	j = sl_jwt_from_json(obj, "routes[0].jwt", err, sizeof(err));
	json_decref(obj);
	if (!j)
		fail_msg("sl_jwt_from_json(%s): %s", text, err);
	sl_jwt_set_clock(j, fake_clock);
	verifiers[nverifiers++] = j;
	return j;
}

static enum sl_jwt_result verify_at(struct sl_jwt *j, const char *authz, time_t now, char *sub)
{
	char buf[64];

	return sl_jwt_verify(j, authz, authz ? strlen(authz) : 0, now, sub ? sub : buf,
			     sub ? 64 : sizeof(buf));
}

static enum sl_jwt_result verify(struct sl_jwt *j, const char *authz)
{
	return verify_at(j, authz, NOW, NULL);
}

#define ASSERT_RES(got, exp, what)                                                        \
	do {                                                                              \
		enum sl_jwt_result g_ = (got), e_ = (exp);                                \
		if (g_ != e_)                                                             \
			fail_msg("%s: got %s, expected %s", what, sl_jwt_result_name(g_), \
				 sl_jwt_result_name(e_));                                 \
	} while (0)

static struct sl_jwt_stats stats(struct sl_jwt *j)
{
	struct sl_jwt_stats st;

	sl_jwt_get_stats(j, &st);
	return st;
}

/* ---- tests ---- */

static void test_valid_token_each_algorithm(void **state)
{
	static const char *const algs[] = { "HS256", "HS384", "HS512", "RS256",
					    "RS384", "RS512", "ES256", "ES384" };
	static const char *const kids[] = { "hs1", "hs1", "hs1", "rsa1",
					    "rsa1", "rsa1", "ec1", "ec2" };
	struct sl_jwt *j = make(ALL_ALGS, ",\"cache_ttl_s\":0");
	char sub[64];
	size_t i;

	for (i = 0; i < 8; i++) {
		strcpy(sub, "unchanged");
		ASSERT_RES(verify_at(j, mint(algs[i], kids[i], "{\"sub\":\"alice\",\"exp\":1700000100}"),
				     NOW, sub),
			   SL_JWT_OK, algs[i]);
		ASSERT_TRUE(!strcmp(sub, "alice"), "%s: sub \"%s\", expected \"alice\"", algs[i], sub);
	}
	ASSERT_EQ(stats(j).verified, 8, "verified");
	ASSERT_EQ(stats(j).cache_misses, 8, "signature checks");
	ASSERT_EQ(stats(j).keys, 4, "keys in the set");
}

static void test_subject_absent_is_empty_and_long_is_truncated(void **state)
{
	struct sl_jwt *j = make("[\"RS256\"]", "");
	const char *nosub = mint("RS256", "rsa1", "{}");
	const char *longsub = mint("RS256", "rsa1", "{\"sub\":\"abcdefghijk\"}");
	char sub[8] = "x";

	ASSERT_RES(sl_jwt_verify(j, nosub, strlen(nosub), NOW, sub, sizeof(sub)), SL_JWT_OK,
		   "no sub");
	ASSERT_TRUE(sub[0] == '\0', "no sub: got \"%s\", expected \"\"", sub);
	ASSERT_RES(sl_jwt_verify(j, longsub, strlen(longsub), NOW, sub, sizeof(sub)), SL_JWT_OK,
		   "long sub");
	ASSERT_TRUE(!strcmp(sub, "abcdefg"), "long sub: got \"%s\", expected \"abcdefg\"", sub);
}

static void test_no_kid_tries_every_key_of_the_type(void **state)
{
	struct sl_jwt *j = make(ALL_ALGS, "");

	write_jwks(jwk_rsa2, jwk_rsa1, jwk_hs1, NULL);
	fake_ms += 1000;
	ASSERT_RES(verify(j, mint("RS256", NULL, "{\"sub\":\"a\"}")), SL_JWT_OK,
		   "RS256 without kid, second RSA key");
	ASSERT_RES(verify(j, mint("HS256", NULL, "{\"sub\":\"a\"}")), SL_JWT_OK,
		   "HS256 without kid");
	ASSERT_RES(verify(j, mint("ES256", NULL, "{\"sub\":\"a\"}")), SL_JWT_BAD_ALG,
		   "ES256 without kid and no EC key");
}

static void test_expired(void **state)
{
	struct sl_jwt *j = make("[\"RS256\"]", ",\"cache_ttl_s\":0");
	struct sl_jwt *lee = make("[\"RS256\"]", ",\"cache_ttl_s\":0,\"leeway_s\":30");

	ASSERT_RES(verify(j, mint("RS256", "rsa1", "{\"exp\":1699999999}")), SL_JWT_EXPIRED,
		   "exp one second ago");
	ASSERT_RES(verify(j, mint("RS256", "rsa1", "{\"exp\":1700000000}")), SL_JWT_EXPIRED,
		   "exp == now");
	ASSERT_RES(verify(j, mint("RS256", "rsa1", "{\"exp\":1700000001}")), SL_JWT_OK,
		   "exp one second ahead");
	ASSERT_RES(verify(j, mint("RS256", "rsa1", "{\"exp\":1699999999.5}")), SL_JWT_EXPIRED,
		   "fractional exp");
	ASSERT_EQ(stats(j).failed[SL_JWT_EXPIRED], 3, "failed[expired]");
	ASSERT_RES(verify(lee, mint("RS256", "rsa1", "{\"exp\":1699999980}")), SL_JWT_OK,
		   "exp 20 s ago, leeway 30");
	ASSERT_RES(verify(lee, mint("RS256", "rsa1", "{\"exp\":1699999970}")), SL_JWT_EXPIRED,
		   "exp 30 s ago, leeway 30");
	ASSERT_RES(verify(j, mint("RS256", "rsa1", "{\"exp\":\"1800000000\"}")), SL_JWT_MALFORMED,
		   "exp as a string");
}

static void test_not_yet_valid(void **state)
{
	struct sl_jwt *j = make("[\"ES256\"]", ",\"cache_ttl_s\":0");
	struct sl_jwt *lee = make("[\"ES256\"]", ",\"cache_ttl_s\":0,\"leeway_s\":30");

	ASSERT_RES(verify(j, mint("ES256", "ec1", "{\"nbf\":1700000010}")), SL_JWT_NOT_YET_VALID,
		   "nbf 10 s ahead");
	ASSERT_RES(verify(j, mint("ES256", "ec1", "{\"nbf\":1700000000}")), SL_JWT_OK,
		   "nbf == now");
	ASSERT_RES(verify(lee, mint("ES256", "ec1", "{\"nbf\":1700000010}")), SL_JWT_OK,
		   "nbf 10 s ahead, leeway 30");
	ASSERT_RES(verify(lee, mint("ES256", "ec1", "{\"nbf\":1700000031}")), SL_JWT_NOT_YET_VALID,
		   "nbf 31 s ahead, leeway 30");
	ASSERT_RES(verify(j, mint("ES256", "ec1", "{\"nbf\":null}")), SL_JWT_MALFORMED,
		   "nbf null");
}

static void test_issuer(void **state)
{
	struct sl_jwt *j = make("[\"HS256\"]", ",\"issuer\":\"https://idp.example\"");

	ASSERT_RES(verify(j, mint("HS256", "hs1", "{\"iss\":\"https://idp.example\"}")), SL_JWT_OK,
		   "right iss");
	ASSERT_RES(verify(j, mint("HS256", "hs1", "{\"iss\":\"https://evil.example\"}")),
		   SL_JWT_BAD_ISSUER, "wrong iss");
	ASSERT_RES(verify(j, mint("HS256", "hs1", "{\"iss\":\"https://idp.example/\"}")),
		   SL_JWT_BAD_ISSUER, "iss with a trailing slash");
	ASSERT_RES(verify(j, mint("HS256", "hs1", "{\"sub\":\"a\"}")), SL_JWT_BAD_ISSUER,
		   "no iss");
	ASSERT_RES(verify(j, mint("HS256", "hs1", "{\"iss\":[\"https://idp.example\"]}")),
		   SL_JWT_BAD_ISSUER, "iss as an array");
}

static void test_audience_string(void **state)
{
	struct sl_jwt *j = make("[\"HS256\"]", ",\"audience\":[\"api\",\"web\"]");
	struct sl_jwt *one = make("[\"HS256\"]", ",\"audience\":\"api\"");

	ASSERT_RES(verify(j, mint("HS256", "hs1", "{\"aud\":\"web\"}")), SL_JWT_OK, "aud web");
	ASSERT_RES(verify(j, mint("HS256", "hs1", "{\"aud\":\"other\"}")), SL_JWT_BAD_AUDIENCE,
		   "aud other");
	ASSERT_RES(verify(j, mint("HS256", "hs1", "{}")), SL_JWT_BAD_AUDIENCE, "no aud");
	ASSERT_RES(verify(j, mint("HS256", "hs1", "{\"aud\":7}")), SL_JWT_BAD_AUDIENCE,
		   "aud a number");
	ASSERT_RES(verify(one, mint("HS256", "hs1", "{\"aud\":\"api\"}")), SL_JWT_OK,
		   "aud api, audience a string");
	ASSERT_RES(verify(one, mint("HS256", "hs1", "{\"aud\":\"web\"}")), SL_JWT_BAD_AUDIENCE,
		   "aud web, audience \"api\"");
}

static void test_audience_array(void **state)
{
	struct sl_jwt *j = make("[\"HS256\"]", ",\"audience\":[\"api\",\"web\"]");

	ASSERT_RES(verify(j, mint("HS256", "hs1", "{\"aud\":[\"x\",\"web\"]}")), SL_JWT_OK,
		   "aud [x, web]");
	ASSERT_RES(verify(j, mint("HS256", "hs1", "{\"aud\":[\"x\",\"y\"]}")), SL_JWT_BAD_AUDIENCE,
		   "aud [x, y]");
	ASSERT_RES(verify(j, mint("HS256", "hs1", "{\"aud\":[]}")), SL_JWT_BAD_AUDIENCE,
		   "aud []");
	ASSERT_RES(verify(j, mint("HS256", "hs1", "{\"aud\":[[\"api\"]]}")), SL_JWT_BAD_AUDIENCE,
		   "aud [[api]]");
}

static void test_required_claims(void **state)
{
	struct sl_jwt *j = make("[\"HS256\"]", ",\"required_claims\":[\"sub\",\"role\"]");

	ASSERT_RES(verify(j, mint("HS256", "hs1", "{\"sub\":\"a\",\"role\":\"admin\"}")), SL_JWT_OK,
		   "sub and role");
	ASSERT_RES(verify(j, mint("HS256", "hs1", "{\"sub\":\"a\"}")), SL_JWT_MISSING_CLAIM,
		   "no role");
	ASSERT_RES(verify(j, mint("HS256", "hs1", "{\"role\":\"admin\"}")), SL_JWT_MISSING_CLAIM,
		   "no sub");
}

static void test_alg_none_refused(void **state)
{
	static const char *const names[] = { "none", "None", "NONE", "nOnE" };
	struct sl_jwt *j = make(ALL_ALGS, "");
	char hdr[64];
	size_t i;

	for (i = 0; i < 4; i++) {
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"rsa1\"}", names[i]);
		ASSERT_RES(verify(j, raw(b64k(hdr), b64k("{\"sub\":\"a\"}"), "")), SL_JWT_BAD_ALG,
			   names[i]);
	}
	/* "none" with a real RS256 signature attached is still refused */
	ASSERT_RES(verify(j, mint_with("{\"alg\":\"none\",\"kid\":\"rsa1\"}", "{}", "RS256", rsa1,
				       NULL, 0, 0)),
		   SL_JWT_BAD_ALG, "none with a signature");
	ASSERT_EQ(stats(j).failed[SL_JWT_BAD_ALG], 5, "failed[bad_alg]");
}

static void test_alg_not_in_allow_list(void **state)
{
	struct sl_jwt *j = make("[\"RS256\"]", "");

	ASSERT_RES(verify(j, mint("RS256", "rsa1", "{}")), SL_JWT_OK, "RS256 allowed");
	ASSERT_RES(verify(j, mint("RS512", "rsa1", "{}")), SL_JWT_BAD_ALG, "RS512 not listed");
	ASSERT_RES(verify(j, mint("ES256", "ec1", "{}")), SL_JWT_BAD_ALG, "ES256 not listed");
	ASSERT_RES(verify(j, mint_with("{\"alg\":\"rs256\",\"kid\":\"rsa1\"}", "{}", "RS256", rsa1,
				       NULL, 0, 0)),
		   SL_JWT_BAD_ALG, "lower-case rs256");
	ASSERT_RES(verify(j, mint_with("{\"alg\":\"PS256\",\"kid\":\"rsa1\"}", "{}", "RS256", rsa1,
				       NULL, 0, 0)),
		   SL_JWT_BAD_ALG, "PS256 (unsupported)");
	ASSERT_EQ(stats(j).cache_misses, 1, "signature checks (only the allowed token)");
}

static void test_algorithm_confusion_refused(void **state)
{
	struct sl_jwt *j = make("[\"RS256\",\"HS256\"]", ",\"cache_ttl_s\":0");
	char cfg[512], err[256];
	struct sl_jwt *pem;
	json_t *obj;

	/* HS256 keyed with the RSA public key PEM, naming the RSA key */
	ASSERT_RES(verify(j, mint_with("{\"alg\":\"HS256\",\"kid\":\"rsa1\"}", "{\"sub\":\"a\"}",
				       "HS256", NULL, rsa_pub_pem, rsa_pub_pem_len, 0)),
		   SL_JWT_BAD_ALG, "HS256 with kid rsa1");
	/* without a kid only oct keys are tried: the forged MAC does not match them */
	ASSERT_RES(verify(j, mint_with("{\"alg\":\"HS256\"}", "{\"sub\":\"a\"}", "HS256", NULL,
				       rsa_pub_pem, rsa_pub_pem_len, 0)),
		   SL_JWT_BAD_SIGNATURE, "HS256 without kid, JWKS with an oct key");
	/* the classic setup: one PEM RSA key, no HMAC key at all */
	snprintf(cfg, sizeof(cfg), "{\"pem\":\"%s\",\"algs\":[\"RS256\",\"HS256\"]}", pem_path);
	obj = json_loads(cfg, 0, NULL);
	pem = sl_jwt_from_json(obj, "r.jwt", err, sizeof(err));
	json_decref(obj);
	ASSERT_TRUE(pem, "pem verifier: %s", err);
	verifiers[nverifiers++] = pem;
	ASSERT_RES(verify(pem, mint_with("{\"alg\":\"HS256\"}", "{\"sub\":\"a\"}", "HS256", NULL,
					 rsa_pub_pem, rsa_pub_pem_len, 0)),
		   SL_JWT_BAD_ALG, "HS256 against a PEM RSA key");
	ASSERT_RES(verify(pem, mint("RS256", NULL, "{\"sub\":\"a\"}")), SL_JWT_OK,
		   "RS256 against the PEM key");
	/* an ES384 token naming the P-256 key: right type, wrong curve */
	j = make(ALL_ALGS, "");
	ASSERT_RES(verify(j, mint_with("{\"alg\":\"ES384\",\"kid\":\"ec1\"}", "{}", "ES384", ec2,
				       NULL, 0, 0)),
		   SL_JWT_BAD_ALG, "ES384 naming a P-256 key");
	ASSERT_RES(verify(j, mint_with("{\"alg\":\"RS256\",\"kid\":\"hs1\"}", "{}", "RS256", rsa1,
				       NULL, 0, 0)),
		   SL_JWT_BAD_ALG, "RS256 naming an oct key");
}

static void test_pem_key_with_kid(void **state)
{
	char cfg[512], err[256];
	struct sl_jwt *j;
	json_t *obj;

	snprintf(cfg, sizeof(cfg), "{\"pem\":\"%s\",\"pem_kid\":\"p1\",\"algs\":[\"RS256\"]}",
		 pem_path);
	obj = json_loads(cfg, 0, NULL);
	j = sl_jwt_from_json(obj, "r.jwt", err, sizeof(err));
	json_decref(obj);
	ASSERT_TRUE(j, "pem verifier: %s", err);
	verifiers[nverifiers++] = j;
	ASSERT_RES(verify(j, mint("RS256", "p1", "{}")), SL_JWT_OK, "kid p1");
	ASSERT_RES(verify(j, mint("RS256", "rsa1", "{}")), SL_JWT_UNKNOWN_KID, "kid rsa1");
	ASSERT_EQ(stats(j).keys, 1, "keys");
}

static void test_unknown_kid(void **state)
{
	struct sl_jwt *j = make(ALL_ALGS, "");

	ASSERT_RES(verify(j, mint("RS256", "nope", "{}")), SL_JWT_UNKNOWN_KID, "kid nope");
	ASSERT_RES(verify(j, mint_with("{\"alg\":\"RS256\",\"kid\":\"RSA1\"}", "{}", "RS256", rsa1,
				       NULL, 0, 0)),
		   SL_JWT_UNKNOWN_KID, "kid RSA1 (kids are case-sensitive)");
	ASSERT_RES(verify(j, mint_with("{\"alg\":\"RS256\",\"kid\":5}", "{}", "RS256", rsa1, NULL,
				       0, 0)),
		   SL_JWT_MALFORMED, "kid a number");
	ASSERT_EQ(stats(j).failed[SL_JWT_UNKNOWN_KID], 2, "failed[unknown_kid]");
}

static void test_tampered_payload_and_signature(void **state)
{
	static const char *const algs[] = { "HS256", "RS256", "ES256", "ES384" };
	static const char *const kids[] = { "hs1", "rsa1", "ec1", "ec2" };
	struct sl_jwt *j = make(ALL_ALGS, "");
	char what[64];
	size_t i;

	for (i = 0; i < 4; i++) {
		snprintf(what, sizeof(what), "%s, payload changed", algs[i]);
		ASSERT_RES(verify(j, mint_flags(algs[i], kids[i], "{\"sub\":\"alice\"}", T_PAYLOAD)),
			   SL_JWT_BAD_SIGNATURE, what);
		snprintf(what, sizeof(what), "%s, signature bit flipped", algs[i]);
		ASSERT_RES(verify(j, mint_flags(algs[i], kids[i], "{\"sub\":\"alice\"}", T_SIG)),
			   SL_JWT_BAD_SIGNATURE, what);
	}
	/* a signature of the wrong length, and an empty one */
	ASSERT_RES(verify(j, raw(b64k("{\"alg\":\"ES256\",\"kid\":\"ec1\"}"), b64k("{}"),
				 b64k("0123456789012345678901234567890123456789012345678901234567890"))),
		   SL_JWT_BAD_SIGNATURE, "ES256 with 61 signature bytes");
	ASSERT_RES(verify(j, raw(b64k("{\"alg\":\"HS256\",\"kid\":\"hs1\"}"), b64k("{}"), "")),
		   SL_JWT_BAD_SIGNATURE, "HS256 with no signature");
	ASSERT_EQ(stats(j).verified, 0, "verified");
}

static void test_bad_base64url(void **state)
{
	struct sl_jwt *j = make(ALL_ALGS, "");
	const char *good = mint("HS256", "hs1", "{\"sub\":\"a\"}") + 7;
	const char *d1 = strchr(good, '.'), *d2 = strchr(d1 + 1, '.');
	char *h = keep(strndup(good, (size_t)(d1 - good)));
	char *p = keep(strndup(d1 + 1, (size_t)(d2 - d1 - 1)));
	char *s = keep(strdup(d2 + 1));
	char *padded, *plus;

	ASSERT_RES(verify(j, raw(h, p, s)), SL_JWT_OK, "the untouched parts");
	assert_true(asprintf(&padded, "%s=", s) > 0);
	ASSERT_RES(verify(j, raw(h, p, keep(padded))), SL_JWT_MALFORMED, "padding '='");
	plus = keep(strdup(p));
	plus[1] = '+';
	ASSERT_RES(verify(j, raw(h, plus, s)), SL_JWT_MALFORMED, "'+' in the payload");
	plus[1] = '/';
	ASSERT_RES(verify(j, raw(h, plus, s)), SL_JWT_MALFORMED, "'/' in the payload");
	ASSERT_RES(verify(j, raw(h, p, "A")), SL_JWT_MALFORMED, "one-character signature");
	/* "e30" is "{}"; "e31" decodes to the same bytes with non-zero trailing bits */
	ASSERT_RES(verify(j, raw(b64k("{\"alg\":\"HS256\",\"kid\":\"hs1\"}"), "e31", s)),
		   SL_JWT_MALFORMED, "non-canonical trailing bits");
	ASSERT_RES(verify(j, keep(strdup("Bearer abc.def"))), SL_JWT_MALFORMED, "two parts");
	ASSERT_RES(verify(j, raw(h, p, keep(strdup("a.b")))), SL_JWT_MALFORMED, "four parts");
	ASSERT_RES(verify(j, raw("", p, s)), SL_JWT_MALFORMED, "empty header");
	ASSERT_RES(verify(j, keep(strdup("Bearer a b.c.d"))), SL_JWT_MALFORMED, "space inside");
}

static void test_bad_json(void **state)
{
	struct sl_jwt *j = make(ALL_ALGS, "");

	ASSERT_RES(verify(j, raw(b64k("{\"alg\":\"HS256\""), b64k("{}"), "")), SL_JWT_MALFORMED,
		   "truncated header");
	ASSERT_RES(verify(j, raw(b64k("[\"HS256\"]"), b64k("{}"), "")), SL_JWT_MALFORMED,
		   "header an array");
	ASSERT_RES(verify(j, raw(b64k("{\"alg\":1}"), b64k("{}"), "")), SL_JWT_MALFORMED,
		   "alg a number");
	ASSERT_RES(verify(j, raw(b64k("{\"kid\":\"hs1\"}"), b64k("{}"), "")), SL_JWT_MALFORMED,
		   "no alg");
	ASSERT_RES(verify(j, raw(b64k("{\"alg\":\"HS256\",\"alg\":\"none\"}"), b64k("{}"), "")),
		   SL_JWT_MALFORMED, "duplicate alg");
	ASSERT_RES(verify(j, raw(b64k("{\"alg\":\"HS256\",\"crit\":[\"b64\"]}"), b64k("{}"), "")),
		   SL_JWT_MALFORMED, "crit");
	ASSERT_RES(verify(j, mint("HS256", "hs1", "[1,2]")), SL_JWT_MALFORMED, "payload an array");
	ASSERT_RES(verify(j, mint("HS256", "hs1", "\"x\"")), SL_JWT_MALFORMED, "payload a string");
	ASSERT_RES(verify(j, mint("HS256", "hs1", "{\"sub\":\"a\"} x")), SL_JWT_MALFORMED,
		   "trailing bytes after the payload");
	ASSERT_RES(verify(j, mint("HS256", "hs1", "{\"sub\":5}")), SL_JWT_MALFORMED, "sub a number");
	ASSERT_RES(verify(j, mint("HS256", "hs1", "{\"sub\":\"a\\u0000b\"}")), SL_JWT_MALFORMED,
		   "NUL in a string");
}

static void test_missing_or_not_bearer(void **state)
{
	struct sl_jwt *j = make(ALL_ALGS, "");
	const char *tok = mint("HS256", "hs1", "{}");
	char *lower = keep(strdup(tok)), *spaced;

	ASSERT_RES(verify(j, NULL), SL_JWT_MISSING, "no header");
	ASSERT_RES(verify(j, ""), SL_JWT_MISSING, "empty header");
	ASSERT_RES(verify(j, "Basic dXNlcjpwYXNz"), SL_JWT_MISSING, "Basic");
	ASSERT_RES(verify(j, "Bearer"), SL_JWT_MISSING, "Bearer alone");
	ASSERT_RES(verify(j, "Bearer   "), SL_JWT_MISSING, "Bearer and spaces");
	ASSERT_RES(verify(j, "Bearerabc.def.ghi"), SL_JWT_MISSING, "no space after Bearer");
	memcpy(lower, "bEARER", 6);
	ASSERT_RES(verify(j, lower), SL_JWT_OK, "scheme in mixed case");
	assert_true(asprintf(&spaced, "  Bearer \t %s  ", tok + 7) > 0);
	ASSERT_RES(verify(j, keep(spaced)), SL_JWT_OK, "spaces around");
	ASSERT_EQ(stats(j).failed[SL_JWT_MISSING], 6, "failed[missing]");
}

static void test_jwks_reloaded_when_file_changes(void **state)
{
	struct sl_jwt *j = make("[\"RS256\"]", ",\"cache_ttl_s\":0,\"reload_interval_ms\":3600000");
	const char *old = mint("RS256", "rsa1", "{}");

	/* spend the unknown-kid reload, so only the change check can pick up a new file */
	ASSERT_RES(verify(j, mint("RS256", "zzz", "{}")), SL_JWT_UNKNOWN_KID, "kid zzz");
	ASSERT_EQ(stats(j).reloads, 1, "reloads after the unknown kid");
	write_jwks(jwk_rsa2, NULL, NULL, NULL);
	fake_ms += 999;
	ASSERT_RES(verify(j, old), SL_JWT_OK, "old kid before the once-a-second check");
	ASSERT_EQ(stats(j).reloads, 1, "reloads before the check");
	fake_ms += 1;
	ASSERT_RES(verify(j, mint_with("{\"alg\":\"RS256\",\"kid\":\"rsa2\"}", "{}", "RS256", rsa2,
				       NULL, 0, 0)),
		   SL_JWT_OK, "new kid rsa2 after the change");
	ASSERT_EQ(stats(j).reloads, 2, "reloads after the check");
	ASSERT_RES(verify(j, old), SL_JWT_UNKNOWN_KID, "old kid rsa1 after the change");
	ASSERT_EQ(stats(j).keys, 1, "keys");
	/* unchanged file: no reload on the next check */
	fake_ms += 5000;
	ASSERT_RES(verify(j, mint("RS256", NULL, "{}")), SL_JWT_BAD_SIGNATURE,
		   "rsa1 token without kid against rsa2");
	ASSERT_EQ(stats(j).reloads, 2, "reloads with the file unchanged");
}

static void test_unknown_kid_reload_rate_limited(void **state)
{
	struct sl_jwt *j = make("[\"RS256\"]", ",\"reload_interval_ms\":500");
	const char *tok = mint_with("{\"alg\":\"RS256\",\"kid\":\"rsa2\"}", "{}", "RS256", rsa2, NULL,
				    0, 0);

	ASSERT_RES(verify(j, tok), SL_JWT_UNKNOWN_KID, "rsa2 before it is published");
	ASSERT_EQ(stats(j).reloads, 1, "the unknown kid reloaded once");
	write_jwks(jwk_rsa1, jwk_rsa2, NULL, NULL);
	ASSERT_RES(verify(j, tok), SL_JWT_UNKNOWN_KID, "rsa2 published, inside the interval");
	ASSERT_RES(verify(j, mint("RS256", "other", "{}")), SL_JWT_UNKNOWN_KID, "another kid");
	ASSERT_EQ(stats(j).reloads, 1, "reloads inside the interval");
	fake_ms += 500; /* past the kid interval, short of the 1 s change check */
	ASSERT_RES(verify(j, tok), SL_JWT_OK, "rsa2 after the interval");
	ASSERT_EQ(stats(j).reloads, 2, "reloads after the interval");
}

static void test_invalid_new_jwks_keeps_old_keys(void **state)
{
	struct sl_jwt *j = make(ALL_ALGS, ",\"cache_ttl_s\":0");
	const char *tok = mint("ES384", "ec2", "{}");
	struct sl_jwt_stats st;

	write_raw_jwks("{\"keys\": [ {\"kty\": \"RSA\", \"n\": ");
	fake_ms += 1000;
	ASSERT_RES(verify(j, tok), SL_JWT_OK, "after a truncated JWKS");
	st = stats(j);
	ASSERT_EQ(st.reload_errors, 1, "reload errors");
	ASSERT_EQ(st.reloads, 0, "reloads");
	ASSERT_EQ(st.keys, 4, "keys kept");
	/* the broken file is not re-read until it changes */
	fake_ms += 1000;
	ASSERT_RES(verify(j, tok), SL_JWT_OK, "a second later");
	ASSERT_EQ(stats(j).reload_errors, 1, "reload errors with the file unchanged");
	/* well-formed JSON, but an EC point of the wrong length */
	write_raw_jwks("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"e\",\"x\":\"AAAA\","
		       "\"y\":\"AAAA\"}]}");
	fake_ms += 1000;
	ASSERT_RES(verify(j, tok), SL_JWT_OK, "after a JWKS with a bad key");
	ASSERT_EQ(stats(j).reload_errors, 2, "reload errors");
	write_jwks(jwk_ec2, NULL, NULL, NULL);
	fake_ms += 1000;
	ASSERT_RES(verify(j, tok), SL_JWT_OK, "after a good JWKS");
	ASSERT_EQ(stats(j).reloads, 1, "reloads");
	ASSERT_EQ(stats(j).keys, 1, "keys");
}

static void test_cache_hit_and_expiry(void **state)
{
	struct sl_jwt *j = make("[\"RS256\"]", ",\"cache_ttl_s\":300,\"cache_size\":16");
	const char *tok = mint("RS256", "rsa1", "{\"sub\":\"bob\",\"exp\":1700000100}");
	struct sl_jwt_stats st;
	char sub[64];

	ASSERT_RES(verify_at(j, tok, NOW, sub), SL_JWT_OK, "first use");
	ASSERT_EQ(stats(j).cache_misses, 1, "signature checks after the first use");
	strcpy(sub, "");
	ASSERT_RES(verify_at(j, tok, NOW + 50, sub), SL_JWT_OK, "second use");
	ASSERT_TRUE(!strcmp(sub, "bob"), "sub from the cache: got \"%s\", expected \"bob\"", sub);
	st = stats(j);
	ASSERT_EQ(st.cache_hits, 1, "cache hits");
	ASSERT_EQ(st.cache_misses, 1, "signature checks after the hit");
	ASSERT_EQ(st.verified, 2, "verified");
	ASSERT_RES(verify_at(j, tok, NOW + 100, sub), SL_JWT_EXPIRED, "cached token at exp");
	ASSERT_EQ(stats(j).cache_hits, 1, "cache hits after exp");
	/* a token differing in one signature bit is not served from the cache */
	ASSERT_RES(verify_at(j, mint_flags("RS256", "rsa1", "{\"sub\":\"bob\",\"exp\":1700000100}",
					   T_SIG),
			     NOW, sub),
		   SL_JWT_BAD_SIGNATURE, "tampered copy of a cached token");
}

/* Rotating a key out of the JWKS revokes tokens verified (and cached) under it. */
static void test_key_removal_revokes_cached_tokens(void **state)
{
	struct sl_jwt *j = make("[\"RS256\"]", ",\"cache_ttl_s\":300");
	const char *tok = mint("RS256", "rsa1", "{\"sub\":\"bob\"}");

	ASSERT_RES(verify(j, tok), SL_JWT_OK, "first use");
	ASSERT_RES(verify(j, tok), SL_JWT_OK, "second use");
	ASSERT_EQ(stats(j).cache_hits, 1, "served from the cache");
	write_jwks(jwk_rsa2, NULL, NULL, NULL);
	fake_ms += 1000;
	ASSERT_RES(verify(j, tok), SL_JWT_UNKNOWN_KID, "cached token after its key was removed");
	ASSERT_EQ(stats(j).cache_hits, 1, "no cache hit after the rotation");
}

static void test_cache_ttl_and_off(void **state)
{
	struct sl_jwt *j = make("[\"HS256\"]", ",\"cache_ttl_s\":10");
	struct sl_jwt *off = make("[\"HS256\"]", ",\"cache_ttl_s\":0");
	const char *tok = mint("HS256", "hs1", "{\"sub\":\"a\"}");

	ASSERT_RES(verify_at(j, tok, NOW, NULL), SL_JWT_OK, "first use");
	ASSERT_RES(verify_at(j, tok, NOW + 9, NULL), SL_JWT_OK, "inside the ttl");
	ASSERT_RES(verify_at(j, tok, NOW + 10, NULL), SL_JWT_OK, "at the ttl");
	ASSERT_EQ(stats(j).cache_hits, 1, "hits");
	ASSERT_EQ(stats(j).cache_misses, 2, "signature checks");
	ASSERT_RES(verify(off, tok), SL_JWT_OK, "cache off, first");
	ASSERT_RES(verify(off, tok), SL_JWT_OK, "cache off, second");
	ASSERT_EQ(stats(off).cache_hits, 0, "hits with the cache off");
	ASSERT_EQ(stats(off).cache_misses, 2, "signature checks with the cache off");
}

/* Build from @text; expect NULL and an error naming @needle. */
static void expect_config_error(const char *text, const char *needle)
{
	char err[512] = "";
	struct sl_jwt *j;
	json_t *obj = json_loads(text, 0, NULL);

	assert_non_null(obj);
	j = sl_jwt_from_json(obj, "vips[0].l7.routes[1].jwt", err, sizeof(err));
	json_decref(obj);
	if (j) {
		sl_jwt_free(j);
		fail_msg("%s: accepted, expected an error naming %s", text, needle);
	}
	ASSERT_TRUE(strstr(err, needle), "%s: error \"%s\" does not name %s", text, err, needle);
}

static void test_config_errors(void **state)
{
	char text[512];

	snprintf(text, sizeof(text), "{\"jwks\":\"%s\"}", jwks_path);
	expect_config_error(text, "routes[1].jwt.algs: required");
	snprintf(text, sizeof(text), "{\"jwks\":\"%s\",\"algs\":[]}", jwks_path);
	expect_config_error(text, "jwt.algs: required");
	snprintf(text, sizeof(text), "{\"jwks\":\"%s\",\"algs\":[\"RS256\",\"none\"]}", jwks_path);
	expect_config_error(text, "\"none\" is never allowed");
	snprintf(text, sizeof(text), "{\"jwks\":\"%s\",\"algs\":[\"None\"]}", jwks_path);
	expect_config_error(text, "\"none\" is never allowed");
	snprintf(text, sizeof(text), "{\"jwks\":\"%s\",\"algs\":[\"PS256\"]}", jwks_path);
	expect_config_error(text, "algs[0]: \"PS256\" is not supported");
	expect_config_error("{\"jwks\":\"/nonexistent/jwks.json\",\"algs\":[\"RS256\"]}",
			    "jwt.jwks: cannot open \"/nonexistent/jwks.json\"");
	snprintf(text, sizeof(text), "{\"jwks\":\"%s\",\"algs\":[\"RS256\"]}", dir);
	expect_config_error(text, "jwt.jwks: cannot read");
	expect_config_error("{\"pem\":\"/nonexistent.pem\",\"algs\":[\"RS256\"]}", "jwt.pem");
	expect_config_error("{\"algs\":[\"RS256\"]}", "jwt: no keys");
	snprintf(text, sizeof(text), "{\"jwks\":\"%s\",\"algs\":[\"RS256\"],\"leeway\":5}",
		 jwks_path);
	expect_config_error(text, "jwt.leeway: unknown field");
	snprintf(text, sizeof(text), "{\"jwks\":\"%s\",\"algs\":[\"RS256\"],\"leeway_s\":-1}",
		 jwks_path);
	expect_config_error(text, "jwt.leeway_s");
	snprintf(text, sizeof(text), "{\"jwks\":\"%s\",\"algs\":[\"RS256\"],\"audience\":[]}",
		 jwks_path);
	expect_config_error(text, "jwt.audience");
	snprintf(text, sizeof(text), "{\"pem\":\"%s\",\"algs\":[\"HS256\"]}", pem_path);
	expect_config_error(text, "no key fits");
	snprintf(text, sizeof(text),
		 "{\"jwks\":\"%s\",\"algs\":[\"RS256\"],\"forward_subject\":\"X Sub\"}", jwks_path);
	expect_config_error(text, "jwt.forward_subject");
	expect_config_error("[]", "routes[1].jwt: must be an object");
	write_raw_jwks("{\"keys\":[{\"kty\":\"oct\",\"kid\":\"short\",\"k\":\"AAAA\"}]}");
	snprintf(text, sizeof(text), "{\"jwks\":\"%s\",\"algs\":[\"HS256\"]}", jwks_path);
	expect_config_error(text, "keys[0]: \"k\" has 3 bytes");
}

static void test_forward_header_and_result_names(void **state)
{
	struct sl_jwt *j = make("[\"RS256\"]", ",\"forward_subject\":\"X-Auth-Subject\"");
	struct sl_jwt *none = make("[\"RS256\"]", "");
	int r, s;

	ASSERT_TRUE(!strcmp(sl_jwt_forward_header(j), "X-Auth-Subject"), "forward header");
	ASSERT_TRUE(sl_jwt_forward_header(none) == NULL, "no forward header");
	for (r = 0; r < SL_JWT__MAX; r++) {
		ASSERT_TRUE(strcmp(sl_jwt_result_name(r), "unknown"), "result %d has no name", r);
		for (s = 0; s < r; s++)
			ASSERT_TRUE(strcmp(sl_jwt_result_name(r), sl_jwt_result_name(s)),
				    "results %d and %d share a name", r, s);
	}
	ASSERT_TRUE(!strcmp(sl_jwt_result_name(SL_JWT_BAD_SIGNATURE), "bad_signature"), "name");
}

/* Workers verify while the key set is swapped under them (run under ASan for races on memory). */
struct worker {
	struct sl_jwt *j;
	const char *tok;
	int bad;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	int i;

	for (i = 0; i < 300; i++)
		if (verify(w->j, w->tok) != SL_JWT_OK)
			w->bad++;
	return NULL;
}

static void test_concurrent_verify_during_reloads(void **state)
{
	struct sl_jwt *j = make("[\"HS256\",\"RS256\"]", ",\"cache_ttl_s\":0,\"reload_interval_ms\":0");
	struct worker w[2] = { { j, mint("HS256", "hs1", "{}"), 0 },
			       { j, mint("RS256", "rsa1", "{}"), 0 } };
	pthread_t t[2];
	int i;

	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
	for (i = 0; i < 20; i++) {
		write_jwks(i % 2 ? jwk_hs1 : jwk_rsa1, i % 2 ? jwk_rsa1 : jwk_hs1, jwk_ec1, NULL);
		__atomic_add_fetch(&fake_ms, 1000, __ATOMIC_RELAXED);
		usleep(1000);
	}
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	ASSERT_EQ(w[0].bad + w[1].bad, 0, "failed verifications while reloading");
	ASSERT_TRUE(stats(j).reloads >= 1, "no reload happened");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)
		T(test_valid_token_each_algorithm),
		T(test_subject_absent_is_empty_and_long_is_truncated),
		T(test_no_kid_tries_every_key_of_the_type),
		T(test_expired),
		T(test_not_yet_valid),
		T(test_issuer),
		T(test_audience_string),
		T(test_audience_array),
		T(test_required_claims),
		T(test_alg_none_refused),
		T(test_alg_not_in_allow_list),
		T(test_algorithm_confusion_refused),
		T(test_pem_key_with_kid),
		T(test_unknown_kid),
		T(test_tampered_payload_and_signature),
		T(test_bad_base64url),
		T(test_bad_json),
		T(test_missing_or_not_bearer),
		T(test_jwks_reloaded_when_file_changes),
		T(test_unknown_kid_reload_rate_limited),
		T(test_invalid_new_jwks_keeps_old_keys),
		T(test_cache_hit_and_expiry),
		T(test_key_removal_revokes_cached_tokens),
		T(test_cache_ttl_and_off),
		T(test_config_errors),
		T(test_forward_header_and_result_names),
		T(test_concurrent_verify_during_reloads),
#undef T
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
