package main

// Prices are Google Cloud list prices in USD for one region and tier, with where they come
// from. Free tiers are left out of the per-webhook figures (they are a fixed monthly allowance,
// not a price per webhook) and listed apart in the output.
type Prices struct {
	AsOf    string // when the figures were taken from the pages below
	Region  string
	Sources []string

	RunVCPUSecond  float64 // Cloud Run functions (Cloud Run, request-based billing), Tier 1
	RunGiBSecond   float64
	RunRequest     float64 // per request
	PubSubTiB      float64 // throughput, publish and delivery alike
	PubSubMinBytes int     // each publish and each delivery request counts at least this much
	FSRead         float64 // Firestore Standard edition, per document
	FSWrite        float64
	FSDelete       float64 // TTL deletes are charged as deletes
	FSGiBMonth     float64
	SecretAccess   float64 // per access operation
	FreeTiers      []string
}

// ListPrices is the dated price table. Not re-read online from the machine that wrote it (it
// has no internet): check the sources before quoting a figure, and override any price by flag.
func ListPrices() Prices {
	return Prices{
		AsOf:   "2025 list prices (as published by Google in 2025; confirm on the source pages)",
		Region: "us-central1 (Cloud Run Tier 1; Firestore regional us-central1)",
		Sources: []string{
			"https://cloud.google.com/run/pricing",
			"https://cloud.google.com/pubsub/pricing",
			"https://cloud.google.com/firestore/pricing",
			"https://cloud.google.com/secret-manager/pricing",
		},
		RunVCPUSecond:  0.000024,
		RunGiBSecond:   0.0000025,
		RunRequest:     0.40 / 1e6,
		PubSubTiB:      40,
		PubSubMinBytes: 1000,
		FSRead:         0.03 / 1e5,
		FSWrite:        0.09 / 1e5,
		FSDelete:       0.01 / 1e5,
		FSGiBMonth:     0.15,
		SecretAccess:   0.03 / 1e4,
		FreeTiers: []string{
			"Cloud Run: 180,000 vCPU-s, 360,000 GiB-s and 2 million requests a month",
			"Pub/Sub: 10 GiB of throughput a month",
			"Firestore: 50,000 reads, 20,000 writes, 20,000 deletes a day and 1 GiB stored (TTL deletes are never free)",
			"Secret Manager: 10,000 access operations a month",
		},
	}
}
