// Copyright The toolaudit Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
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
	haveFrontier, havePrev := false, false
	for _, line := range cp.extensions[1:] {
		key, value, _ := strings.Cut(line, " ")
		switch {
		case key == "frontier" && !haveFrontier:
			frontier, haveFrontier = value, true
		case key == "prev-hash" && !havePrev:
			prevHash, havePrev = value, true
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
	return &pruning{cp: cp, frontier: r, prevHash: prevHash}, nil
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
