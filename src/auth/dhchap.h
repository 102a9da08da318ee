/*
 * DH-HMAC-CHAP (NVMe base 2.0 section 8.13, TP8006) computations, shared by the
 * controller core (nvme/) and the initiator (host/): secrets in their DHHC-1
 * representation, the key transformation, the responses both sides compute,
 * and the finite-field Diffie-Hellman exchange of RFC 7919's groups.  Every
 * hash, HMAC, random number and DH computation is OpenSSL's; this file only
 * arranges the bytes the specification feeds them.
 *
 * Nothing here logs, and no error message carries a secret.
 */
#ifndef NVEMU_AUTH_DHCHAP_H
#define NVEMU_AUTH_DHCHAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec/nvme.h"

#define DHCHAP_MAX_HASH_LEN 64
/* The largest DH value: ffdhe8192's prime, in bytes. */
#define DHCHAP_MAX_DH_LEN 1024

/*
 * A secret as nvme-cli's gen-dhchap-key writes it: "DHHC-1:HH:BASE64:", where HH
 * names the hash that transforms it (00 none, 01 SHA-256, 02 SHA-384, 03
 * SHA-512) and BASE64 holds 32, 48 or 64 bytes of key and their CRC-32.
 */
struct dhchap_key {
	uint8_t transform; /* 0, or the enum nvme_auth_hash of the transformation */
	uint8_t len;       /* 32, 48 or 64 */
	uint8_t bytes[64];
};

/* Decodes text into key; -1 with a message (never the secret itself) otherwise. */
int dhchap_key_parse(const char *text, struct dhchap_key *key, char *err, size_t errlen);

/* Overwrites key material so that it does not linger in freed memory. */
void dhchap_wipe(void *buf, size_t len);

/* 32, 48 or 64 for the hashes DH-HMAC-CHAP names, 0 for any other identifier. */
size_t dhchap_hash_len(uint8_t hash);
/* "sha256"... / "null", "ffdhe2048"...; NULL for unknown identifiers. */
const char *dhchap_hash_name(uint8_t hash);
const char *dhchap_dhgroup_name(uint8_t dhgroup);
/* The DH value's length for a group: its prime's size in bytes (0 for the null group). */
size_t dhchap_dhgroup_len(uint8_t dhgroup);

/*
 * A preference list of hashes or DH groups, most preferred first, parsed from
 * "sha512,sha384" or "ffdhe2048,null".  -1 with a message in err otherwise.
 */
struct dhchap_list {
	uint8_t ids[8];
	uint8_t count;
};
int dhchap_hashes_parse(const char *text, struct dhchap_list *out, char *err, size_t errlen);
int dhchap_dhgroups_parse(const char *text, struct dhchap_list *out, char *err, size_t errlen);
bool dhchap_list_has(const struct dhchap_list *list, uint8_t id);
/* Either list as the value of an option called name, which its messages start with. */
int dhchap_list_option(const char *name, const char *text, bool dhgroups, struct dhchap_list *out,
		       char *err, size_t errlen);

/*
 * The key the responses are keyed with: the secret itself, or HMAC(secret,
 * NQN || "NVMe-over-Fabrics") with the secret's transformation hash.  The
 * host's secret is transformed with the host NQN, the controller's with the
 * subsystem NQN.  Returns the length written to out (DHCHAP_MAX_HASH_LEN
 * bytes of room), or -1.
 */
int dhchap_transform(const struct dhchap_key *key, const char *nqn, uint8_t *out);

/*
 * A response: HMAC over (challenge, augmented with the DH session key when
 * there is one), sequence number, transaction ID, SC_C 0, role ("HostHost"
 * or "Controller"), nqn1, a zero byte, nqn2.  The host answers the
 * controller's challenge with role "HostHost", nqn1 = host NQN, nqn2 =
 * subsystem NQN; the controller the host's with "Controller" and the NQNs
 * the other way round.  out gets dhchap_hash_len(hash) bytes.  0 or -1.
 */
struct dhchap_response_input {
	uint8_t hash;
	const uint8_t *key; /* transformed, keylen bytes */
	size_t keylen;
	const uint8_t *challenge;   /* dhchap_hash_len(hash) bytes */
	const uint8_t *session_key; /* NULL with the null DH group */
	size_t session_key_len;
	uint32_t seqnum;
	uint16_t tid;
	const char *role;
	const char *nqn1, *nqn2;
};
int dhchap_response(const struct dhchap_response_input *in, uint8_t *out);

/* Fills buf with random bytes from OpenSSL's generator; 0 or -1. */
int dhchap_random(void *buf, size_t len);

/* One side's ephemeral Diffie-Hellman key in an RFC 7919 group. */
struct dhchap_dh;
struct dhchap_dh *dhchap_dh_create(uint8_t dhgroup);
void dhchap_dh_free(struct dhchap_dh *dh);
/* The public value, dhchap_dhgroup_len() bytes, big-endian and zero-padded. */
int dhchap_dh_public(const struct dhchap_dh *dh, uint8_t *out, size_t len);
/*
 * The shared secret with the peer's public value (which must be a valid
 * element of the group: 1 < y < p - 1, of the prime-order subgroup), zero-
 * padded to the prime's size: dhchap_dhgroup_len() bytes.  0 or -1.
 */
int dhchap_dh_shared(const struct dhchap_dh *dh, const uint8_t *peer, size_t peer_len, uint8_t *out,
		     size_t out_len);

#endif
