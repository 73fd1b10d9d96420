// SPDX-License-Identifier: LGPL-2.1-or-later

package main

// The instance a scriptlet receives: Incus's api.Instance (shared/api/
// instance.go at the Incus revision the reference was read from), field for
// field and tag for tag. The runner reads it from JSON into these types so
// that marshalling it gives what Incus gives: the same keys in the same
// order, status_code an int, and created_at / last_used_at empty dicts
// (time.Time has no exported fields).

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// configMap is api.ConfigMap.
type configMap map[string]string

// devicesMap is api.DevicesMap.
type devicesMap map[string]map[string]string

// statusCode is api.StatusCode.
type statusCode int

// InstancePut is api.InstancePut.
type InstancePut struct {
	Architecture string     `json:"architecture"`
	Config       configMap  `json:"config"`
	Devices      devicesMap `json:"devices"`
	Ephemeral    bool       `json:"ephemeral"`
	Profiles     []string   `json:"profiles"`
	Restore      string     `json:"restore,omitempty"`
	DiskOnly     bool       `json:"disk_only,omitempty"`
	Stateful     bool       `json:"stateful"`
	Description  string     `json:"description"`
}

// Instance is api.Instance; its type name is what type(instance) shows.
type Instance struct {
	InstancePut

	CreatedAt       time.Time  `json:"created_at"`
	ExpandedConfig  configMap  `json:"expanded_config,omitempty"`
	ExpandedDevices devicesMap `json:"expanded_devices,omitempty"`
	Name            string     `json:"name"`
	Status          string     `json:"status"`
	StatusCode      statusCode `json:"status_code"`
	LastUsedAt      time.Time  `json:"last_used_at"`
	Location        string     `json:"location"`
	Type            string     `json:"type"`
	Project         string     `json:"project"`
}

// readInstance loads the instance JSON file.
func readInstance(path string) (*Instance, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}

	inst := &Instance{}
	err = json.Unmarshal(data, inst)
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", path, err)
	}

	return inst, nil
}
