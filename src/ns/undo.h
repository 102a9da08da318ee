/*
 * The writes a power cut would lose (undo.c): a record per write until its pages are on
 * NAND, with the data it replaced, so that a cut restores exactly what the model says had
 * not reached NAND. For the ssd and zoned kinds; namespaces with power-loss protection keep
 * none.
 */
#ifndef NVEMU_NS_UNDO_H
#define NVEMU_NS_UNDO_H

#include <stdbool.h>
#include <stdint.h>

struct ns_undo;

struct ns_undo *ns_undo_create(uint32_t lba_shift);
void ns_undo_destroy(struct ns_undo *u);

/*
 * A write of [slba, slba + nlb) is about to land. Returns its record's number (0: out of
 * memory), and in *old where to copy the range's current contents before they are overwritten
 * (keep_old; NULL otherwise: the range restores as zeroes); *old stays valid until the record
 * is dropped, which it is not before ns_undo_commit. `tag` is the caller's, handed back at a
 * cut. Records whose pages are on NAND by `now` are dropped on the way. Overlapping writes in
 * flight at once race, as on a drive: which one's old data is kept is not defined.
 */
uint64_t ns_undo_begin(struct ns_undo *u, uint64_t slba, uint32_t nlb, bool keep_old, uint64_t tag,
		       uint64_t now, uint8_t **old);
/* Record `number` (ns_undo_begin's): the write landed, its pages are on NAND at on_nand. */
void ns_undo_commit(struct ns_undo *u, uint64_t number, uint64_t on_nand);
/* ...or it failed: a cut restores older lost writes under it as if it had not been made, and
 * nothing of its own (its old data may not have been read). */
void ns_undo_cancel(struct ns_undo *u, uint64_t number);

/*
 * Power cut at `now`: restore() is called for every range whose newest writes were lost, with
 * what it held before them (NULL: zeroes), newest writes first. Every record is dropped.
 * Returns how many LBAs went back, each once however many of its writes were lost. No write
 * may be in progress. It allocates nothing: a cut cannot fail.
 */
uint64_t ns_undo_power_cut(struct ns_undo *u, uint64_t now,
			   void (*restore)(void *ctx, uint64_t slba, uint32_t nlb, const uint8_t *old,
					   uint64_t tag),
			   void *ctx);

#endif
