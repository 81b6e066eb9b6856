// Copyright The toolaudit Authors
// SPDX-License-Identifier: Apache-2.0

// Command toolaudit-verify-go checks a toolaudit trail's exported material with the reference
// implementations of the formats it uses: golang.org/x/mod/sumdb/note for the signed checkpoints
// (c2sp.org/signed-note, c2sp.org/tlog-checkpoint) and github.com/transparency-dev/merkle for the
// RFC 6962 / RFC 9162 Merkle tree (leaf hashing, the root from a compact range, inclusion and
// consistency proofs). It shares no code with the Python package.
//
// Usage:
//
//	toolaudit-verify-go -vkey KEY [-witness WKEY]... [-quorum N] [-tree FILE] [-proof FILE]... [-consistency FILE]...
//
// KEY is the log's verifier key (name+id+base64) or a file holding it. -tree reads the JSON of
// `toolaudit export-tree SINK`: the log's leaf hashes and its signed checkpoints; every checkpoint's
// signature is verified and its root recomputed from the leaves. For a pruned trail the leaves start
// at the cut n and the document carries the signed pruning checkpoint for n: its frontier (the
// compact range [0, n)) must hash to its signed root, the remaining leaves are appended to that
// range, and the first remaining record's prev_hash must name the entry hash its prev-hash line
// gives, and the admin event its admin-event line names, when among the entries, must be an admin
// record (both checked when the entries are exported). -proof reads a c2sp.org/tlog-proof@v1
// file (`toolaudit prove --format tlog-proof`); -consistency the JSON of `toolaudit consistency`.
//
// -witness WKEY (repeatable) is a witness's verifier key (c2sp.org/tlog-cosignature, Ed25519
// cosignature/v1, key type 0x04), or a file holding it. With -witness, the checkpoint each check
// rests on must carry valid cosignatures from at least -quorum of those witnesses (default: all of
// them): the widest checkpoint of -tree, the checkpoint of each -proof, the new checkpoint of each
// -consistency. A cosignature line that names a given witness key but does not verify fails the
// checkpoint.
//
// Exit status: 0 when everything verifies, 1 when a check fails, 2 on a usage error or unreadable
// input. One line per check on stdout ("OK: ..." or "FAIL: ...").
package main

import (
	"bytes"
	"crypto"
	_ "crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2

	treeFormat        = "toolaudit-tree/1"
	consistencyFormat = "toolaudit-consistency-proof/1"
	tlogProofHeader   = "c2sp.org/tlog-proof@v1"
)

var hasher = rfc6962.New(crypto.SHA256)

// usageError is bad or unreadable input: exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

type files []string

func (f *files) String() string     { return strings.Join(*f, ",") }
func (f *files) Set(v string) error { *f = append(*f, v); return nil }

// checkpoint is a parsed c2sp.org/tlog-checkpoint body and the witnesses that cosigned it.
type checkpoint struct {
	origin     string
	size       uint64
	root       []byte
	extensions []string
	cosigners  []string
}

// keys are the log's verifier key and the witnesses' keys with the quorum they must reach.
type keys struct {
	log       note.Verifier
	witnesses []note.Verifier
	quorum    int
	all       note.Verifiers
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	flags := flag.NewFlagSet("toolaudit-verify-go", flag.ContinueOnError)
	vkey := flags.String("vkey", "", "the log's verifier key, or a file holding it (required)")
	tree := flags.String("tree", "", "JSON from `toolaudit export-tree`: leaf hashes and signed checkpoints")
	var proofs, consistencies files
	flags.Var(&proofs, "proof", "a c2sp.org/tlog-proof@v1 file (repeatable)")
	flags.Var(&consistencies, "consistency", "JSON from `toolaudit consistency` (repeatable)")
	var witnessKeys files
	flags.Var(&witnessKeys, "witness", "a witness's cosignature/v1 verifier key, or a file holding it (repeatable)")
	quorum := flags.Int("quorum", -1, "how many of the -witness keys must have cosigned (default: all)")
	if err := flags.Parse(args); err != nil {
		return exitUsage
	}
	if *vkey == "" || (*tree == "" && len(proofs) == 0 && len(consistencies) == 0) {
		fmt.Fprintln(os.Stderr, "toolaudit-verify-go: error: give -vkey and at least one of -tree, -proof, -consistency")
		return exitUsage
	}
	verifier, err := loadVerifier(*vkey)
	if err != nil {
		return report(err)
	}
	verifiers, err := loadKeys(verifier, witnessKeys, *quorum)
	if err != nil {
		return report(err)
	}
	failed := false
	check := func(err error) error {
		var usage usageError
		if errors.As(err, &usage) {
			return err
		}
		if err != nil {
			fmt.Printf("FAIL: %v\n", err)
			failed = true
		}
		return nil
	}
	if *tree != "" {
		if err := check(verifyTree(*tree, verifiers)); err != nil {
			return report(err)
		}
	}
	for _, path := range proofs {
		if err := check(verifyTlogProof(path, verifiers)); err != nil {
			return report(err)
		}
	}
	for _, path := range consistencies {
		if err := check(verifyConsistency(path, verifiers)); err != nil {
			return report(err)
		}
	}
	if failed {
		return exitFailed
	}
	return exitOK
}

func report(err error) int {
	fmt.Fprintf(os.Stderr, "toolaudit-verify-go: error: %v\n", err)
	return exitUsage
}

func loadVerifier(spec string) (note.Verifier, error) {
	text, err := readKey(spec, "verifier key")
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(text)
	if err != nil {
		return nil, usageError{fmt.Sprintf("malformed verifier key: %v", err)}
	}
	return v, nil
}

// readKey is spec itself when it looks like a key (it has a '+'), else the file it names.
func readKey(spec, what string) (string, error) {
	if strings.Contains(spec, "+") {
		return strings.TrimSpace(spec), nil
	}
	data, err := os.ReadFile(spec)
	if err != nil {
		return "", usageError{fmt.Sprintf("cannot read the %s %s: %v", what, spec, err)}
	}
	return strings.TrimSpace(string(data)), nil
}

// loadKeys parses the -witness keys and checks -quorum (-1: every witness given).
func loadKeys(log note.Verifier, specs []string, quorum int) (*keys, error) {
	k := &keys{log: log}
	for _, spec := range specs {
		text, err := readKey(spec, "witness key")
		if err != nil {
			return nil, err
		}
		w, err := newCosignatureVerifier(text)
		if err != nil {
			return nil, usageError{fmt.Sprintf("malformed witness key: %v", err)}
		}
		for _, seen := range k.witnesses {
			if seen.Name() == w.Name() && seen.KeyHash() == w.KeyHash() {
				return nil, usageError{fmt.Sprintf("the witness key %s is given twice", w.Name())}
			}
		}
		k.witnesses = append(k.witnesses, w)
	}
	switch {
	case quorum == -1:
		k.quorum = len(k.witnesses)
	case len(k.witnesses) == 0:
		return nil, usageError{"-quorum needs -witness keys to count"}
	case quorum < 1 || quorum > len(k.witnesses):
		return nil, usageError{fmt.Sprintf("-quorum %d is not between 1 and the %d -witness keys given", quorum, len(k.witnesses))}
	default:
		k.quorum = quorum
	}
	k.all = note.VerifierList(append([]note.Verifier{log}, k.witnesses...)...)
	return k, nil
}

// checkQuorum fails unless cp carries cosignatures from at least the quorum of witnesses; what is
// the checkpoint's role in the message ("the widest checkpoint", "the proof's checkpoint").
func (k *keys) checkQuorum(what string, cp checkpoint) error {
	if len(k.witnesses) == 0 {
		return nil
	}
	names := strings.Join(cp.cosigners, ", ")
	if names == "" {
		names = "none"
	}
	if len(cp.cosigners) < k.quorum {
		return fmt.Errorf("%s (size %d) has %d valid witness cosignature(s) (%s), %d required",
			what, cp.size, len(cp.cosigners), names, k.quorum)
	}
	fmt.Printf("OK: %s (size %d) is cosigned by %d of the %d witnesses (%s; quorum %d)\n",
		what, cp.size, len(cp.cosigners), len(k.witnesses), names, k.quorum)
	return nil
}

// openCheckpoint verifies a signed checkpoint note with the reference signed-note code and parses
// its body (c2sp.org/tlog-checkpoint: origin, decimal size, base64 root, optional extensions). The
// log's signature must be among the verified ones; the witnesses whose cosignatures verified are
// listed in cosigners.
func openCheckpoint(text string, k *keys) (checkpoint, error) {
	n, err := note.Open([]byte(text), k.all)
	if err != nil {
		return checkpoint{}, fmt.Errorf("checkpoint signature: %v", err)
	}
	var cosigners []string
	signedByLog := false
	for _, sig := range n.Sigs {
		if sig.Name == k.log.Name() && sig.Hash == k.log.KeyHash() {
			signedByLog = true
			continue
		}
		cosigners = append(cosigners, sig.Name)
	}
	if !signedByLog {
		return checkpoint{}, errors.New("checkpoint signature: not signed by the log's key")
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		return checkpoint{}, errors.New("checkpoint: fewer than three lines")
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || (lines[1] != "0" && strings.HasPrefix(lines[1], "0")) {
		return checkpoint{}, errors.New("checkpoint: the size is not a decimal number")
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		return checkpoint{}, errors.New("checkpoint: the root is not a base64 SHA-256 hash")
	}
	extensions := lines[3 : len(lines)-1]
	return checkpoint{origin: lines[0], size: size, root: root, extensions: extensions, cosigners: cosigners}, nil
}

type treeFile struct {
	Format            string   `json:"format"`
	First             uint64   `json:"first"`
	LeafHashes        []string `json:"leaf_hashes"`
	Entries           []string `json:"entries"`
	Checkpoints       []string `json:"checkpoints"`
	PruningCheckpoint string   `json:"pruning_checkpoint"`
}

// verifyTree rebuilds the Merkle tree from the leaf hashes with a compact range and checks every
// signed checkpoint against the root of the leaves it covers. When the document carries the
// entries (the records' bytes), each one is hashed here and must give its leaf hash. When the
// leaves start at first > 0 (a pruned trail), the range starts from the pruning checkpoint's
// frontier instead of from empty.
func verifyTree(path string, verifiers *keys) error {
	var tree treeFile
	if err := readJSON(path, &tree); err != nil {
		return err
	}
	if tree.Format != treeFormat {
		return usageError{fmt.Sprintf("%s: not a %s document", path, treeFormat)}
	}
	if tree.Entries != nil && len(tree.Entries) != len(tree.LeafHashes) {
		return usageError{fmt.Sprintf("%s: %d entries for %d leaf hashes", path, len(tree.Entries), len(tree.LeafHashes))}
	}
	type signed struct {
		cp  checkpoint
		idx int
	}
	size := tree.First + uint64(len(tree.LeafHashes))
	wanted := map[uint64][]signed{}
	for i, text := range tree.Checkpoints {
		cp, err := openCheckpoint(text, verifiers)
		if err != nil {
			return fmt.Errorf("checkpoint %d: %v", i, err)
		}
		if cp.size > size {
			return fmt.Errorf("checkpoint %d covers %d leaves but the tree has %d", i, cp.size, size)
		}
		if cp.size < tree.First {
			return fmt.Errorf("checkpoint %d (size %d) ends before the first leaf %d: its leaves are not in the document", i, cp.size, tree.First)
		}
		wanted[cp.size] = append(wanted[cp.size], signed{cp, i})
	}
	rf := compact.RangeFactory{Hash: hasher.HashChildren}
	r := rf.NewEmptyRange(0)
	pruned := ""
	if tree.First > 0 {
		if tree.PruningCheckpoint == "" {
			return fmt.Errorf("the leaves start at %d but there is no pruning checkpoint for records 0..%d: they were deleted", tree.First, tree.First-1)
		}
		p, err := openPruning(tree.PruningCheckpoint, verifiers, &rf)
		if err != nil {
			return err
		}
		if p.cp.size != tree.First {
			return fmt.Errorf("the leaves start at %d but the pruning checkpoint is for size %d", tree.First, p.cp.size)
		}
		r = p.frontier
		pruned = fmt.Sprintf(" after records 0..%d pruned (signed frontier matches)", tree.First-1)
		if len(tree.Entries) > 0 {
			entry, err := base64.StdEncoding.DecodeString(tree.Entries[0])
			if err != nil {
				return usageError{fmt.Sprintf("%s: entry 0 is not base64", path)}
			}
			prev, err := prevHashOf(entry)
			if err != nil {
				return err
			}
			if prev != p.prevHash {
				return fmt.Errorf("record %d's prev_hash %s is not the pruning checkpoint's prev-hash %s", tree.First, prev, p.prevHash)
			}
			pruned += fmt.Sprintf(", record %d's prev_hash matches", tree.First)
			if err := p.checkAdminEvent(tree.First, tree.Entries); err != nil {
				return err
			}
		}
	}
	rootAt := func() ([]byte, error) {
		if r.End() == 0 {
			return hasher.EmptyRoot(), nil
		}
		return r.GetRootHash(nil)
	}
	checkAt := func() error {
		for _, s := range wanted[r.End()] {
			root, err := rootAt()
			if err != nil {
				return err
			}
			if !bytes.Equal(root, s.cp.root) {
				return fmt.Errorf("checkpoint %d (size %d): the root of the leaves is %x, the signed root %x",
					s.idx, s.cp.size, root, s.cp.root)
			}
		}
		return nil
	}
	if err := checkAt(); err != nil {
		return err
	}
	for i, h := range tree.LeafHashes {
		leaf, err := hex.DecodeString(h)
		if err != nil || len(leaf) != 32 {
			return usageError{fmt.Sprintf("%s: leaf %d is not a hex SHA-256 hash", path, i)}
		}
		if tree.Entries != nil {
			entry, err := base64.StdEncoding.DecodeString(tree.Entries[i])
			if err != nil {
				return usageError{fmt.Sprintf("%s: entry %d is not base64", path, i)}
			}
			if !bytes.Equal(hasher.HashLeaf(entry), leaf) {
				return fmt.Errorf("entry %d does not hash to its leaf hash: the record was modified", tree.First+uint64(i))
			}
		}
		if err := r.Append(leaf, nil); err != nil {
			return err
		}
		if err := checkAt(); err != nil {
			return err
		}
	}
	root, err := rootAt()
	if err != nil {
		return err
	}
	hashed := ""
	if tree.Entries != nil {
		hashed = ", every entry hashed"
	}
	fmt.Printf("OK: tree of %d leaves%s%s, root %x; %d signed checkpoints match it\n",
		size, pruned, hashed, root, len(tree.Checkpoints))
	if len(verifiers.witnesses) == 0 {
		return nil
	}
	// The widest checkpoint vouches for every leaf under it; of several notes for that size
	// (the log's own and the one stored with cosignatures added), the best-cosigned one counts.
	var widest *checkpoint
	for _, list := range wanted {
		for i := range list {
			cp := &list[i].cp
			if widest == nil || cp.size > widest.size ||
				(cp.size == widest.size && len(cp.cosigners) > len(widest.cosigners)) {
				widest = cp
			}
		}
	}
	if widest == nil {
		return errors.New("the tree has no signed checkpoint for witnesses to have cosigned")
	}
	return verifiers.checkQuorum("the widest checkpoint", *widest)
}

// verifyTlogProof checks a c2sp.org/tlog-proof@v1 file: header, optional extra (here: the
// record's bytes, hashed as the leaf), index, inclusion proof hashes, blank line, checkpoint.
func verifyTlogProof(path string, verifiers *keys) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return usageError{fmt.Sprintf("cannot read %s: %v", path, err)}
	}
	head, checkpointText, found := strings.Cut(string(data), "\n\n")
	if !found {
		return usageError{fmt.Sprintf("%s: no blank line before the checkpoint", path)}
	}
	lines := strings.Split(head, "\n")
	if lines[0] != tlogProofHeader {
		return usageError{fmt.Sprintf("%s: not a %s file", path, tlogProofHeader)}
	}
	lines = lines[1:]
	var extra []byte
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		if extra, err = base64.StdEncoding.DecodeString(strings.TrimPrefix(lines[0], "extra ")); err != nil {
			return usageError{fmt.Sprintf("%s: the extra line is not base64", path)}
		}
		lines = lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		return usageError{fmt.Sprintf("%s: no index line", path)}
	}
	indexText := strings.TrimPrefix(lines[0], "index ")
	index, err := strconv.ParseUint(indexText, 10, 64)
	if err != nil || (indexText != "0" && strings.HasPrefix(indexText, "0")) {
		return usageError{fmt.Sprintf("%s: the index is not a decimal number", path)}
	}
	var hashes [][]byte
	for _, line := range lines[1:] {
		h, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(h) != 32 {
			return usageError{fmt.Sprintf("%s: a proof line is not a base64 SHA-256 hash", path)}
		}
		hashes = append(hashes, h)
	}
	if extra == nil {
		return usageError{fmt.Sprintf("%s: no extra line with the record to hash", path)}
	}
	cp, err := openCheckpoint(checkpointText, verifiers)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	leaf := hasher.HashLeaf(extra)
	if err := proof.VerifyInclusion(hasher, index, cp.size, leaf, hashes, cp.root); err != nil {
		return fmt.Errorf("%s: inclusion of leaf %d in the tree of %d: %v", path, index, cp.size, err)
	}
	fmt.Printf("OK: %s: leaf %d is in the log %s of %d leaves\n", path, index, cp.origin, cp.size)
	return verifiers.checkQuorum(path+": the proof's checkpoint", cp)
}

type consistencyFile struct {
	Format        string   `json:"format"`
	OldSize       uint64   `json:"old_size"`
	NewSize       uint64   `json:"new_size"`
	Proof         []string `json:"proof"`
	OldCheckpoint string   `json:"old_checkpoint"`
	NewCheckpoint string   `json:"new_checkpoint"`
}

// verifyConsistency checks that the older signed checkpoint's tree is a prefix of the newer one's.
func verifyConsistency(path string, verifiers *keys) error {
	var doc consistencyFile
	if err := readJSON(path, &doc); err != nil {
		return err
	}
	if doc.Format != consistencyFormat {
		return usageError{fmt.Sprintf("%s: not a %s document", path, consistencyFormat)}
	}
	oldCp, err := openCheckpoint(doc.OldCheckpoint, verifiers)
	if err != nil {
		return fmt.Errorf("%s: old %v", path, err)
	}
	newCp, err := openCheckpoint(doc.NewCheckpoint, verifiers)
	if err != nil {
		return fmt.Errorf("%s: new %v", path, err)
	}
	if oldCp.size != doc.OldSize || newCp.size != doc.NewSize {
		return fmt.Errorf("%s: the sizes do not match the checkpoints", path)
	}
	if oldCp.origin != newCp.origin {
		return fmt.Errorf("%s: the checkpoints are of two logs (%s, %s)", path, oldCp.origin, newCp.origin)
	}
	var hashes [][]byte
	for _, line := range doc.Proof {
		h, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(h) != 32 {
			return usageError{fmt.Sprintf("%s: a proof hash is not a base64 SHA-256 hash", path)}
		}
		hashes = append(hashes, h)
	}
	if err := proof.VerifyConsistency(hasher, oldCp.size, newCp.size, hashes, oldCp.root, newCp.root); err != nil {
		return fmt.Errorf("%s: consistency from %d to %d: %v", path, oldCp.size, newCp.size, err)
	}
	fmt.Printf("OK: %s: the tree of %d leaves is a prefix of the tree of %d\n", path, oldCp.size, newCp.size)
	return verifiers.checkQuorum(path+": the new checkpoint", newCp)
}

func readJSON(path string, into any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return usageError{fmt.Sprintf("cannot read %s: %v", path, err)}
	}
	if err := json.Unmarshal(data, into); err != nil {
		return usageError{fmt.Sprintf("%s: not JSON: %v", path, err)}
	}
	return nil
}
