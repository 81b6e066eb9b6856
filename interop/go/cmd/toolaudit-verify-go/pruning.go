// Copyright The toolaudit Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/transparency-dev/merkle/compact"
)

// pruneMark is the first extension line of a pruning checkpoint: a signed checkpoint for the cut n
// whose extension lines carry the Merkle frontier at n (the compact range [0, n), largest subtree
// first, base64) and the entry hash of record n-1, which record n's prev_hash must name.
const pruneMark = "toolaudit-prune/1"

// pruning is what a verifier needs from a pruning checkpoint to carry on without records 0..n-1.
type pruning struct {
	cp       checkpoint
	frontier *compact.Range
	prevHash string
	// adminEvent is the sequence number of the admin record saying so (the admin-event line);
	// -1 when the checkpoint names none.
	adminEvent int64
}

// openPruning verifies the pruning checkpoint's signature (an ordinary signed note), parses its
// frontier and prev-hash lines, and checks that the frontier hashes to the signed root at its size.
func openPruning(text string, k *keys, rf *compact.RangeFactory) (*pruning, error) {
	cp, err := openCheckpoint(text, k)
	if err != nil {
		return nil, fmt.Errorf("the pruning checkpoint: %v", err)
	}
	if len(cp.extensions) == 0 || cp.extensions[0] != pruneMark {
		return nil, fmt.Errorf("the pruning checkpoint (size %d) has no %s line", cp.size, pruneMark)
	}
	var frontier, prevHash string
	haveFrontier, havePrev, haveEvent := false, false, false
	adminEvent := int64(-1)
	for _, line := range cp.extensions[1:] {
		key, value, _ := strings.Cut(line, " ")
		switch {
		case key == "frontier" && !haveFrontier:
			frontier, haveFrontier = value, true
		case key == "prev-hash" && !havePrev:
			prevHash, havePrev = value, true
		case key == "admin-event" && !haveEvent:
			seq, err := strconv.ParseInt(value, 10, 64)
			if err != nil || seq < 0 {
				return nil, fmt.Errorf("the pruning checkpoint (size %d): admin-event is not a sequence number", cp.size)
			}
			adminEvent, haveEvent = seq, true
		}
	}
	if !haveFrontier || !havePrev {
		return nil, fmt.Errorf("the pruning checkpoint (size %d) lacks its frontier or prev-hash line", cp.size)
	}
	if raw, err := hex.DecodeString(prevHash); err != nil || len(raw) != 32 || strings.ToLower(prevHash) != prevHash {
		return nil, fmt.Errorf("the pruning checkpoint (size %d): prev-hash is not a hex SHA-256 hash", cp.size)
	}
	var hashes [][]byte
	for _, field := range strings.Fields(frontier) {
		h, err := base64.StdEncoding.DecodeString(field)
		if err != nil || len(h) != 32 {
			return nil, fmt.Errorf("the pruning checkpoint (size %d): a frontier hash is not a base64 SHA-256 hash", cp.size)
		}
		hashes = append(hashes, h)
	}
	r, err := rf.NewRange(0, cp.size, hashes)
	if err != nil {
		return nil, fmt.Errorf("the pruning checkpoint (size %d): the frontier is not the compact range [0, %d): %v", cp.size, cp.size, err)
	}
	if cp.size > 0 {
		root, err := r.GetRootHash(nil)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(root, cp.root) {
			return nil, fmt.Errorf("the pruning checkpoint (size %d): the frontier hashes to %x, not to the signed root %x", cp.size, root, cp.root)
		}
	}
	return &pruning{cp: cp, frontier: r, prevHash: prevHash, adminEvent: adminEvent}, nil
}

// checkAdminEvent checks that the admin event the pruning checkpoint names, when it is among the
// entries (records first, first+1, ...), is an admin record. An event past the last entry is not
// judged: a document exported from an archive ends before it by design.
func (p *pruning) checkAdminEvent(first uint64, entries []string) error {
	if p.adminEvent < 0 || uint64(p.adminEvent) < first || uint64(p.adminEvent)-first >= uint64(len(entries)) {
		return nil
	}
	entry, err := base64.StdEncoding.DecodeString(entries[uint64(p.adminEvent)-first])
	if err != nil {
		return usageError{fmt.Sprintf("entry %d is not base64", p.adminEvent)}
	}
	var fields struct {
		EventType string `json:"event_type"`
	}
	if err := json.Unmarshal(entry, &fields); err != nil || fields.EventType != "admin" {
		return fmt.Errorf("the pruning checkpoint (size %d) names admin event %d, but record %d is not an admin record", p.cp.size, p.adminEvent, p.adminEvent)
	}
	return nil
}

// prevHashOf is the prev_hash field of a record's canonical JSON bytes.
func prevHashOf(entry []byte) (string, error) {
	var fields struct {
		PrevHash *string `json:"prev_hash"`
	}
	if err := json.Unmarshal(entry, &fields); err != nil || fields.PrevHash == nil {
		return "", fmt.Errorf("the first entry has no prev_hash field")
	}
	return *fields.PrevHash, nil
}
