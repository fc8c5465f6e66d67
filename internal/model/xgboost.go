package model

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

// XGBoost's legacy binary model format, as XGBoost 1.x writes it for save_model("x.model").
// leaves reads the layout of XGBoost 0.72–0.90, and 1.x differs in three ways, each of which
// leaves would misread (a 60 GB allocation and a division by zero were what it did with the
// file as is):
//
//  1. the file starts with the magic "binf";
//  2. the learner's base_score is stored as a probability (0.5), where 0.9x stored it as a
//     margin (logit(0.5) = 0), which is what leaves adds to the trees' sum;
//  3. the gbtree's num_output_group is 0 (deprecated: the learner's num_class holds it).
//
// adaptXGBoost checks the structure's sizes against the file (so a malformed file cannot make
// leaves allocate gigabytes or index out of range) and rewrites those three points. It does not
// read the trees: leaves does. TestParityWithXGBoost shows the result predicts what XGBoost
// predicts.
const (
	learnerParamSize = 136 // base_score, num_feature, num_class, extra attrs, eval metrics, major, minor, reserved
	gbtreeParamSize  = 160 // num_trees, num_roots, num_feature, pad, pbuffer(int64), num_output_group, size_leaf_vector, reserved[32]
	treeParamSize    = 148 // num_roots, num_nodes, num_deleted, max_depth, num_feature, size_leaf_vector, reserved[31]
	nodeSize         = 20  // parent, left, right, split index, split condition / leaf value
	nodeStatSize     = 16  // loss change, sum hessian, base weight, leaf child count
	maxNameLen       = 64
	deletedNode      = 1<<32 - 1 // XGBoost's kDeletedNodeMarker split index
	maxAttrs         = 1024
	maxAttrLen       = 1 << 16
)

var binfMagic = []byte("binf")

// xgbInfo is what adaptXGBoost learnt about a model.
type xgbInfo struct {
	numFeatures int
	numTrees    int
	objective   string
	major       uint32
	gbtreeAt    int        // offset of the gbtree parameters in the adapted bytes
	trees       []treeSpan // where each tree is, and its splits
}

// treeSpan is one tree's bytes in the adapted model and the splits it makes.
type treeSpan struct {
	start, end int
	splits     []split
}

type split struct {
	feature   int
	threshold float64 // leaves goes left when the feature is <= threshold
}

func adaptXGBoost(raw []byte) ([]byte, xgbInfo, error) {
	var info xgbInfo
	b := bytes.TrimPrefix(raw, binfMagic)
	if len(b) == len(raw) && len(raw) > 0 && raw[0] == '{' {
		return nil, info, fmt.Errorf("this is XGBoost's JSON format: save the model with a non-JSON extension (booster.save_model(\"x.model\")) for the binary format")
	}
	b = bytes.Clone(b)
	r := reader{b: b}
	lp := r.take(learnerParamSize)
	objective := r.str(maxNameLen)
	gbm := r.str(maxNameLen)
	info.gbtreeAt = r.off
	gp := r.take(gbtreeParamSize)
	if r.err != nil {
		return nil, info, r.err
	}
	le := binary.LittleEndian
	info.numFeatures = int(le.Uint32(lp[4:]))
	numClass := int32(le.Uint32(lp[8:]))
	info.major = le.Uint32(lp[20:])
	info.objective = objective
	switch {
	case objective != "binary:logistic":
		return nil, info, fmt.Errorf("objective %q: only binary:logistic is supported", objective)
	case gbm != "gbtree":
		return nil, info, fmt.Errorf("booster %q: only gbtree is supported", gbm)
	case numClass > 1:
		return nil, info, fmt.Errorf("%d classes: only binary models are supported", numClass)
	case info.numFeatures <= 0 || info.numFeatures > 10000:
		return nil, info, fmt.Errorf("implausible number of features %d", info.numFeatures)
	}
	numTrees := int32(le.Uint32(gp[0:]))
	if numTrees <= 0 || int64(numTrees)*treeParamSize > int64(len(b)) {
		return nil, info, fmt.Errorf("implausible number of trees %d for %d bytes", numTrees, len(b))
	}
	info.numTrees = int(numTrees)
	if n := int32(le.Uint32(gp[28:])); n != 0 {
		return nil, info, fmt.Errorf("leaf vectors (size %d) are not supported", n)
	}
	for i := range numTrees {
		span := treeSpan{start: r.off}
		tp := r.take(treeParamSize)
		if r.err != nil {
			return nil, info, fmt.Errorf("tree %d: %w", i, r.err)
		}
		nodes := int32(le.Uint32(tp[4:]))
		if nodes <= 0 || int64(nodes)*(nodeSize+nodeStatSize) > int64(r.left()) {
			return nil, info, fmt.Errorf("tree %d: implausible node count %d", i, nodes)
		}
		if lv := int32(le.Uint32(tp[20:])); lv != 0 {
			return nil, info, fmt.Errorf("tree %d: leaf vectors are not supported", i)
		}
		nb := r.take(int(nodes) * nodeSize)
		r.take(int(nodes) * nodeStatSize)
		if r.err != nil {
			return nil, info, fmt.Errorf("tree %d: %w", i, r.err)
		}
		for j := range int(nodes) {
			n := nb[j*nodeSize:]
			left, right := int32(le.Uint32(n[4:])), int32(le.Uint32(n[8:]))
			sindex := le.Uint32(n[12:])
			feat := sindex & (1<<31 - 1)
			if left == -1 || sindex == deletedNode {
				continue // a leaf, or a node pruning deleted (no longer reachable)
			}
			if left <= 0 || right <= 0 || left >= nodes || right >= nodes || int(feat) >= info.numFeatures {
				return nil, info, fmt.Errorf("tree %d node %d: child or feature index out of range", i, j)
			}
			th := float64(math.Float32frombits(le.Uint32(n[16:])))
			span.splits = append(span.splits, split{feature: int(feat), threshold: th})
		}
		span.end = r.off
		info.trees = append(info.trees, span)
	}
	r.take(int(numTrees) * 4) // tree_info
	// The learner's attributes and eval metrics close the file; leaves skips them, but a file
	// cut or padded there is not the file XGBoost wrote either.
	if le.Uint32(lp[12:]) != 0 {
		r.strings(2)
	}
	if le.Uint32(lp[16:]) != 0 {
		r.strings(1)
	}
	if r.err == nil && r.left() != 0 {
		r.err = fmt.Errorf("%d unexpected bytes after the model", r.left())
	}
	if r.err != nil {
		return nil, info, r.err
	}

	if info.major >= 1 {
		// base_score is a probability since 1.0: give leaves the margin it adds.
		p := float64(math.Float32frombits(le.Uint32(lp[0:])))
		if !(p > 0 && p < 1) {
			return nil, info, fmt.Errorf("base_score %v is not a probability", p)
		}
		le.PutUint32(lp[0:], math.Float32bits(float32(math.Log(p/(1-p)))))
	}
	if le.Uint32(gp[24:]) == 0 {
		le.PutUint32(gp[24:], 1) // one output group: a binary model
	}
	return b, info, nil
}

// reader takes bounded slices of b; the first short read sets err and later ones return nil.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > r.left() {
		r.err = fmt.Errorf("truncated: want %d bytes at offset %d, have %d", n, r.off, r.left())
		return nil
	}
	s := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return s
}

// strings reads a vector of n-tuples of strings (dmlc's serialisation of a vector of pairs
// when n is 2).
func (r *reader) strings(n int) {
	l := r.take(8)
	if r.err != nil {
		return
	}
	count := binary.LittleEndian.Uint64(l)
	if count > maxAttrs {
		r.err = fmt.Errorf("implausible attribute count %d", count)
		return
	}
	for range int(count) * n {
		r.str(maxAttrLen)
	}
}

func (r *reader) str(maxLen uint64) string {
	l := r.take(8)
	if r.err != nil {
		return ""
	}
	n := binary.LittleEndian.Uint64(l)
	if n > maxLen {
		r.err = fmt.Errorf("implausible name length %d at offset %d", n, r.off-8)
		return ""
	}
	return string(r.take(int(n)))
}

// subModel returns a model of the given trees of an adapted model b, with a zero base score and
// no attributes: the part of the margin those trees contribute.
func subModel(b []byte, info xgbInfo, trees []int) []byte {
	le := binary.LittleEndian
	out := bytes.Clone(b[:info.gbtreeAt+gbtreeParamSize])
	le.PutUint32(out[0:], 0)  // base_score: margin 0
	le.PutUint32(out[12:], 0) // no attributes follow
	le.PutUint32(out[16:], 0) // no eval metrics follow
	le.PutUint32(out[info.gbtreeAt:], uint32(len(trees)))
	for _, t := range trees {
		out = append(out, b[info.trees[t].start:info.trees[t].end]...)
	}
	return append(out, make([]byte, 4*len(trees))...) // tree_info: all in group 0
}
