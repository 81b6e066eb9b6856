// Copyright The toolaudit Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// algCosignatureV1 is the signed-note key type of an Ed25519 witness cosignature
// (c2sp.org/tlog-cosignature).
const algCosignatureV1 = 0x04

// cosignatureVerifier is a note.Verifier for a witness's cosignature/v1 key. golang.org/x/mod's
// note package verifies only plain Ed25519 keys (type 0x01); it hands a cosignature line to this
// verifier with the key id already removed, so sig is an 8-byte big-endian timestamp followed by
// the 64-byte Ed25519 signature, over
//
//	cosignature/v1
//	time <timestamp>
//	<the checkpoint's note text>
type cosignatureVerifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (v *cosignatureVerifier) Name() string    { return v.name }
func (v *cosignatureVerifier) KeyHash() uint32 { return v.hash }

func (v *cosignatureVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	timestamp := binary.BigEndian.Uint64(sig[:8])
	if timestamp > 1<<63-1 {
		return false
	}
	signed := make([]byte, 0, 64+len(msg))
	signed = append(signed, "cosignature/v1\ntime "...)
	signed = strconv.AppendUint(signed, timestamp, 10)
	signed = append(signed, '\n')
	signed = append(signed, msg...)
	return ed25519.Verify(v.key, signed, sig[8:])
}

// cosignatureKeyHash is SHA-256(name || 0x0A || 0x04 || public key)[:4], big-endian.
func cosignatureKeyHash(name string, key []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', algCosignatureV1})
	h.Write(key)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// newCosignatureVerifier parses a witness verifier key: <name>+<key id hex>+<base64(0x04 || key)>.
func newCosignatureVerifier(vkey string) (note.Verifier, error) {
	name, rest, ok1 := strings.Cut(vkey, "+")
	hashText, material, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 || name == "" || strings.ContainsAny(name, " \t\n+") || len(hashText) != 8 {
		return nil, errors.New("expected <name>+<hex id>+<base64 key>")
	}
	hash, err := strconv.ParseUint(hashText, 16, 32)
	if err != nil {
		return nil, errors.New("the key id is not 8 hex digits")
	}
	raw, err := base64.StdEncoding.DecodeString(material)
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != algCosignatureV1 {
		return nil, errors.New("not an Ed25519 cosignature/v1 key (algorithm 0x04)")
	}
	key := ed25519.PublicKey(raw[1:])
	if cosignatureKeyHash(name, key) != uint32(hash) {
		return nil, errors.New("its key id does not match the key")
	}
	return &cosignatureVerifier{name: name, hash: uint32(hash), key: key}, nil
}
