/* DH-HMAC-CHAP's computations on OpenSSL: secrets, transformation, responses, FFDHE. */
#include <isa-l/crc.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/dh.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dhchap.h"
#include "util/util.h"

static const struct {
	uint8_t id;
	const char *name;
	uint8_t len;
} hashes[] = {
    {NVME_AUTH_HASH_SHA256, "sha256", 32},
    {NVME_AUTH_HASH_SHA384, "sha384", 48},
    {NVME_AUTH_HASH_SHA512, "sha512", 64},
};

static const struct {
	uint8_t id;
	const char *name;
	uint16_t len;
} dhgroups[] = {
    {NVME_AUTH_DHGROUP_NULL, "null", 0},        {NVME_AUTH_DHGROUP_2048, "ffdhe2048", 256},
    {NVME_AUTH_DHGROUP_3072, "ffdhe3072", 384}, {NVME_AUTH_DHGROUP_4096, "ffdhe4096", 512},
    {NVME_AUTH_DHGROUP_6144, "ffdhe6144", 768}, {NVME_AUTH_DHGROUP_8192, "ffdhe8192", 1024},
};

size_t dhchap_hash_len(uint8_t hash)
{
	for (size_t i = 0; i < ARRAY_SIZE(hashes); i++)
		if (hashes[i].id == hash)
			return hashes[i].len;
	return 0;
}

const char *dhchap_hash_name(uint8_t hash)
{
	for (size_t i = 0; i < ARRAY_SIZE(hashes); i++)
		if (hashes[i].id == hash)
			return hashes[i].name;
	return NULL;
}

const char *dhchap_dhgroup_name(uint8_t dhgroup)
{
	for (size_t i = 0; i < ARRAY_SIZE(dhgroups); i++)
		if (dhgroups[i].id == dhgroup)
			return dhgroups[i].name;
	return NULL;
}

size_t dhchap_dhgroup_len(uint8_t dhgroup)
{
	for (size_t i = 0; i < ARRAY_SIZE(dhgroups); i++)
		if (dhgroups[i].id == dhgroup)
			return dhgroups[i].len;
	return 0;
}

void dhchap_wipe(void *buf, size_t len) { OPENSSL_cleanse(buf, len); }

int dhchap_list_option(const char *name, const char *text, bool dhgroups, struct dhchap_list *out,
		       char *err, size_t errlen)
{
	char why[200];
	int rc = dhgroups ? dhchap_dhgroups_parse(text, out, why, sizeof(why))
			  : dhchap_hashes_parse(text, out, why, sizeof(why));
	return rc ? errorf(err, errlen, "%s: %s", name, why) : 0;
}

bool dhchap_list_has(const struct dhchap_list *list, uint8_t id)
{
	return memchr(list->ids, id, list->count) != NULL;
}

/* A comma-separated list of names, each looked up with find(). */
static int parse_list(const char *text, int (*find)(const char *name, size_t len), const char *what,
		      struct dhchap_list *out, char *err, size_t errlen)
{
	out->count = 0;
	const char *p = text;
	for (;;) {
		size_t len = strcspn(p, ",");
		int id = find(p, len);
		if (id < 0)
			return errorf(err, errlen, "'%.*s' is not a %s", (int)len, p, what);
		if (dhchap_list_has(out, (uint8_t)id))
			return errorf(err, errlen, "%.*s is listed twice", (int)len, p);
		if (out->count == ARRAY_SIZE(out->ids))
			return errorf(err, errlen, "too many entries in '%s'", text);
		out->ids[out->count++] = (uint8_t)id;
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

static int find_hash(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(hashes); i++)
		if (strlen(hashes[i].name) == len && !strncmp(hashes[i].name, name, len))
			return hashes[i].id;
	return -1;
}

static int find_dhgroup(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(dhgroups); i++)
		if (strlen(dhgroups[i].name) == len && !strncmp(dhgroups[i].name, name, len))
			return dhgroups[i].id;
	return -1;
}

int dhchap_hashes_parse(const char *text, struct dhchap_list *out, char *err, size_t errlen)
{
	return parse_list(text, find_hash, "hash (sha256, sha384, sha512)", out, err, errlen);
}

int dhchap_dhgroups_parse(const char *text, struct dhchap_list *out, char *err, size_t errlen)
{
	return parse_list(text, find_dhgroup,
			  "DH group (null, ffdhe2048, ffdhe3072, ffdhe4096, ffdhe6144, ffdhe8192)",
			  out, err, errlen);
}

int dhchap_key_parse(const char *text, struct dhchap_key *key, char *err, size_t errlen)
{
	static const char prefix[] = "DHHC-1:";
	size_t plen = sizeof(prefix) - 1;
	memset(key, 0, sizeof(*key));
	/* "DHHC-1:HH:" then base64 and a closing ':' (nvme-cli writes it; accept its absence). */
	if (strncmp(text, prefix, plen) != 0 || strlen(text) < plen + 3 || text[plen + 2] != ':')
		return errorf(err, errlen,
			      "a secret is written DHHC-1:HH:BASE64: (nvme gen-dhchap-key)");
	char hh[3] = {text[plen], text[plen + 1], 0};
	if (!strchr("0123456789", hh[0]) || !strchr("0123456789", hh[1]) || atoi(hh) > 3)
		return errorf(err, errlen, "a secret's transformation must be 00, 01, 02 or 03");
	const char *b64 = text + plen + 3;
	size_t b64len = strcspn(b64, ":");
	if (b64[b64len] == ':' && b64[b64len + 1] != '\0')
		return errorf(err, errlen, "a secret ends after its base64 part");
	/* 36, 52 or 68 bytes encode as 48, 72 or 92 characters. */
	if (b64len != 48 && b64len != 72 && b64len != 92)
		return errorf(err, errlen, "a secret holds 32, 48 or 64 bytes (and a CRC-32)");
	uint8_t raw[96];
	int n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)b64len);
	size_t pad = b64[b64len - 1] == '=' ? (b64[b64len - 2] == '=' ? 2 : 1) : 0;
	int rc = 0;
	if (n < 0) {
		rc = errorf(err, errlen, "a secret's key is not base64");
		goto out;
	}
	size_t total = (size_t)n - pad;
	if (total != 36 && total != 52 && total != 68) {
		rc = errorf(err, errlen, "a secret holds 32, 48 or 64 bytes (and a CRC-32)");
		goto out;
	}
	size_t len = total - 4;
	uint32_t crc = crc32_gzip_refl(0, raw, len);
	uint32_t stored =
	    raw[len] | raw[len + 1] << 8 | raw[len + 2] << 16 | (uint32_t)raw[len + 3] << 24;
	if (crc != stored) {
		rc = errorf(err, errlen, "a secret's CRC-32 does not match its key (mistyped?)");
		goto out;
	}
	key->transform = (uint8_t)atoi(hh);
	key->len = (uint8_t)len;
	memcpy(key->bytes, raw, len);
out:
	dhchap_wipe(raw, sizeof(raw));
	return rc;
}

/* HMAC(key, parts...) with hash; out gets the digest. */
struct hmac_part {
	const void *data;
	size_t len;
};

static int hmac(uint8_t hash, const void *key, size_t keylen, const struct hmac_part *parts,
		size_t nparts, uint8_t *out)
{
	const char *name = dhchap_hash_name(hash);
	if (!name)
		return -1;
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)name, 0),
	    OSSL_PARAM_construct_end(),
	};
	int rc = -1;
	size_t outlen = 0;
	if (!ctx || EVP_MAC_init(ctx, key, keylen, params) != 1)
		goto out;
	for (size_t i = 0; i < nparts; i++)
		if (parts[i].len && EVP_MAC_update(ctx, parts[i].data, parts[i].len) != 1)
			goto out;
	if (EVP_MAC_final(ctx, out, &outlen, DHCHAP_MAX_HASH_LEN) == 1 &&
	    outlen == dhchap_hash_len(hash))
		rc = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return rc;
}

int dhchap_transform(const struct dhchap_key *key, const char *nqn, uint8_t *out)
{
	if (key->transform == 0) {
		memcpy(out, key->bytes, key->len);
		return key->len;
	}
	static const char suffix[] = "NVMe-over-Fabrics";
	struct hmac_part parts[] = {{nqn, strlen(nqn)}, {suffix, sizeof(suffix) - 1}};
	if (hmac(key->transform, key->bytes, key->len, parts, ARRAY_SIZE(parts), out))
		return -1;
	return (int)dhchap_hash_len(key->transform);
}

int dhchap_response(const struct dhchap_response_input *in, uint8_t *out)
{
	size_t hl = dhchap_hash_len(in->hash);
	if (!hl)
		return -1;
	const uint8_t *challenge = in->challenge;
	uint8_t augmented[DHCHAP_MAX_HASH_LEN], hashed_key[DHCHAP_MAX_HASH_LEN];
	int rc = -1;
	if (in->session_key) {
		/* The challenge augmented with the DH session key: HMAC(H(key), challenge). */
		unsigned int dlen = 0;
		EVP_MD *md = EVP_MD_fetch(NULL, dhchap_hash_name(in->hash), NULL);
		int ok = md && EVP_Digest(in->session_key, in->session_key_len, hashed_key, &dlen,
					  md, NULL) == 1;
		EVP_MD_free(md);
		struct hmac_part part = {challenge, hl};
		if (!ok || dlen != hl || hmac(in->hash, hashed_key, hl, &part, 1, augmented))
			goto out;
		challenge = augmented;
	}
	uint8_t seq[4] = {(uint8_t)in->seqnum, (uint8_t)(in->seqnum >> 8),
			  (uint8_t)(in->seqnum >> 16), (uint8_t)(in->seqnum >> 24)};
	uint8_t tid[2] = {(uint8_t)in->tid, (uint8_t)(in->tid >> 8)};
	uint8_t zero = 0; /* SC_C: no secure channel concatenation; then the NQN separator */
	struct hmac_part parts[] = {
	    {challenge, hl}, {seq, sizeof(seq)},           {tid, sizeof(tid)},
	    {&zero, 1},      {in->role, strlen(in->role)}, {in->nqn1, strlen(in->nqn1)},
	    {&zero, 1},      {in->nqn2, strlen(in->nqn2)},
	};
	rc = hmac(in->hash, in->key, in->keylen, parts, ARRAY_SIZE(parts), out);
out:
	dhchap_wipe(augmented, sizeof(augmented));
	dhchap_wipe(hashed_key, sizeof(hashed_key));
	return rc;
}

int dhchap_random(void *buf, size_t len) { return RAND_bytes(buf, (int)len) == 1 ? 0 : -1; }

struct dhchap_dh {
	EVP_PKEY *key;
	uint8_t group;
};

struct dhchap_dh *dhchap_dh_create(uint8_t dhgroup)
{
	const char *name = dhchap_dhgroup_name(dhgroup);
	if (!name || dhgroup == NVME_AUTH_DHGROUP_NULL)
		return NULL;
	struct dhchap_dh *dh = calloc(1, sizeof(*dh));
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)name, 0),
	    OSSL_PARAM_construct_end(),
	};
	if (!dh || !ctx || EVP_PKEY_keygen_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_params(ctx, params) != 1 || EVP_PKEY_generate(ctx, &dh->key) != 1) {
		free(dh);
		dh = NULL;
	} else {
		dh->group = dhgroup;
	}
	EVP_PKEY_CTX_free(ctx);
	return dh;
}

void dhchap_dh_free(struct dhchap_dh *dh)
{
	if (!dh)
		return;
	EVP_PKEY_free(dh->key);
	free(dh);
}

int dhchap_dh_public(const struct dhchap_dh *dh, uint8_t *out, size_t len)
{
	BIGNUM *pub = NULL;
	int rc = -1;
	if (len == dhchap_dhgroup_len(dh->group) &&
	    EVP_PKEY_get_bn_param(dh->key, OSSL_PKEY_PARAM_PUB_KEY, &pub) == 1 &&
	    BN_bn2binpad(pub, out, (int)len) == (int)len)
		rc = 0;
	BN_free(pub);
	return rc;
}

/* The peer's public value as a key of dh's group; NULL if it is no valid element of it. */
static EVP_PKEY *peer_key(const struct dhchap_dh *dh, const uint8_t *peer, size_t peer_len)
{
	EVP_PKEY *key = NULL;
	BIGNUM *pub = BN_bin2bn(peer, (int)peer_len, NULL);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
	EVP_PKEY_CTX *check = NULL;
	if (!pub || !bld || !ctx ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
					    dhchap_dhgroup_name(dh->group), 0) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, pub) != 1 ||
	    !(params = OSSL_PARAM_BLD_to_param(bld)) || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	/* A full check: range and membership of the prime-order subgroup (y^q = 1 mod p). */
	check = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (!check || EVP_PKEY_public_check(check) != 1) {
		EVP_PKEY_free(key);
		key = NULL;
	}
out:
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(pub);
	return key;
}

int dhchap_dh_shared(const struct dhchap_dh *dh, const uint8_t *peer, size_t peer_len, uint8_t *out,
		     size_t out_len)
{
	size_t len = dhchap_dhgroup_len(dh->group);
	if (peer_len != len || out_len != len)
		return -1;
	EVP_PKEY *peer_pkey = peer_key(dh, peer, peer_len);
	EVP_PKEY_CTX *ctx = peer_pkey ? EVP_PKEY_CTX_new_from_pkey(NULL, dh->key, NULL) : NULL;
	size_t got = out_len;
	int rc = -1;
	/* Padded: the secret is always the prime's size, as the Linux host computes it. */
	if (ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_CTX_set_dh_pad(ctx, 1) == 1 &&
	    EVP_PKEY_derive_set_peer(ctx, peer_pkey) == 1 && EVP_PKEY_derive(ctx, out, &got) == 1 &&
	    got == len)
		rc = 0;
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer_pkey);
	return rc;
}
