/*
 * A libnvme client of a zoned namespace, run in the reference guest:
 * finds the namespace of SUBNQN with nvme_scan(), appends blocks to one zone
 * with nvme_zns_append() and checks the LBA each completion returns, reads
 * them back with nvme_read(), and checks that an append larger than the
 * controller's ZASL fails with Invalid Field.
 *
 * Usage: zns-append SUBNQN ZONE_INDEX
 * Prints PASS:/FAIL: lines like the guest scripts; exits non-zero on failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libnvme.h>

#define APPENDS 3
#define SC_INVALID_FIELD 0x2

static int fails;

static void check(int ok, const char *what)
{
	printf("%s: libnvme: %s\n", ok ? "PASS" : "FAIL", what);
	fails += !ok;
}

static nvme_ns_t find_ns(nvme_root_t root, const char *subnqn)
{
	nvme_host_t h;
	nvme_subsystem_t s;
	nvme_ns_t n;
	nvme_for_each_host(root, h) {
		nvme_for_each_subsystem(h, s) {
			if (strcmp(nvme_subsystem_get_nqn(s), subnqn) != 0)
				continue;
			nvme_subsystem_for_each_ns(s, n)
				return n;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s SUBNQN ZONE_INDEX\n", argv[0]);
		return 2;
	}
	nvme_root_t root = nvme_scan(NULL);
	nvme_ns_t ns = root ? find_ns(root, argv[1]) : NULL;
	if (!ns) {
		printf("FAIL: libnvme: no namespace of %s found by nvme_scan\n", argv[1]);
		return 1;
	}
	int fd = nvme_ns_get_fd(ns);
	__u32 nsid = nvme_ns_get_nsid(ns);
	int lba_size = nvme_ns_get_lba_size(ns);
	printf("libnvme: %s nsid %u, %d-byte LBAs\n", nvme_ns_get_name(ns), nsid, lba_size);

	struct nvme_zns_id_ctrl id_ctrl;
	struct nvme_zns_id_ns id_ns;
	struct nvme_id_ns id;
	if (nvme_zns_identify_ctrl(fd, &id_ctrl) || nvme_zns_identify_ns(fd, nsid, &id_ns) ||
	    nvme_identify_ns(fd, nsid, &id)) {
		printf("FAIL: libnvme: ZNS identify\n");
		return 1;
	}
	__u64 zsze = id_ns.lbafe[id.flbas & 0xf].zsze; /* x86: little-endian already */
	__u64 zslba = strtoull(argv[2], NULL, 0) * zsze;
	/* ZASL is in units of the minimum memory page size (4 KiB); 0 means MDTS. */
	size_t zasl = id_ctrl.zasl ? 4096u << id_ctrl.zasl : 0;
	printf("libnvme: zone size %llu LBAs, ZASL %u (%zu bytes), zone at LBA %llu\n",
	       (unsigned long long)zsze, id_ctrl.zasl, zasl, (unsigned long long)zslba);

	size_t big = zasl ? 2 * zasl : (size_t)lba_size;
	unsigned char *buf, *back;
	if (posix_memalign((void **)&buf, 4096, big) || posix_memalign((void **)&back, 4096, big))
		return 1;
	for (int i = 0; i < APPENDS; i++) {
		memset(buf, 'A' + i, (size_t)lba_size);
		__u64 alba = ~0ull;
		struct nvme_zns_append_args args = {
		    .args_size = sizeof(args), .fd = fd, .nsid = nsid, .zslba = zslba,
		    .result = &alba, .data = buf, .data_len = (__u32)lba_size, .nlb = 0,
		};
		int rc = nvme_zns_append(&args);
		char what[128];
		snprintf(what, sizeof(what), "append %d returned LBA %llu (expected %llu), status %d", i,
			 (unsigned long long)alba, (unsigned long long)(zslba + (__u64)i), rc);
		check(rc == 0 && alba == zslba + (__u64)i, what);
	}
	for (int i = 0; i < APPENDS; i++) {
		struct nvme_io_args args = {
		    .args_size = sizeof(args), .fd = fd, .nsid = nsid, .slba = zslba + (__u64)i,
		    .data = back, .data_len = (__u32)lba_size, .nlb = 0,
		};
		memset(back, 0, (size_t)lba_size);
		int rc = nvme_read(&args);
		memset(buf, 'A' + i, (size_t)lba_size);
		char what[96];
		snprintf(what, sizeof(what), "read back block %d (status %d)", i, rc);
		check(rc == 0 && memcmp(buf, back, (size_t)lba_size) == 0, what);
	}
	if (zasl) {
		memset(buf, 'Z', big);
		__u64 alba = 0;
		struct nvme_zns_append_args args = {
		    .args_size = sizeof(args), .fd = fd, .nsid = nsid, .zslba = zslba,
		    .result = &alba, .data = buf, .data_len = (__u32)big,
		    .nlb = (__u16)(big / (size_t)lba_size - 1),
		};
		int rc = nvme_zns_append(&args);
		char what[128];
		snprintf(what, sizeof(what), "append of %zu bytes over ZASL refused: status 0x%x", big,
			 rc > 0 ? rc : 0);
		check(rc > 0 && (rc & 0x7ff) == SC_INVALID_FIELD, what);
	}
	nvme_free_tree(root);
	return fails ? 1 : 0;
}
