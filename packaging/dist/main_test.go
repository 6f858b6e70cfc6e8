package main

import "testing"

func TestPackageVersionOrdersInDpkgAndRpm(t *testing.T) {
	for _, tc := range []struct{ describe, want string }{
		{"v0.3.0", "0.3.0"},
		{"0.3.0", "0.3.0"},
		{"v0.3.0-4-gabc1234", "0.3.0+4.gabc1234"},
		{"v0.3.0-4-gabc1234-dirty", "0.3.0+4.gabc1234.dirty"},
		{"v1.2.0-rc.1", "1.2.0~rc.1"}, // before 1.2.0
		{"v1.2.0-rc.1-2-gabc1234", "1.2.0~rc.1.2.gabc1234"},
		{"abc1234", "0.0.0+gitabc1234"},
		{"9e96857-dirty", "0.0.0+git9e96857.dirty"}, // a hash that starts with a digit is no release
		{"1234567", "0.0.0+git1234567"},
		{"dev", "0.0.0+gitdev"},
	} {
		if got := packageVersion(tc.describe); got != tc.want {
			t.Errorf("packageVersion(%q) = %q, want %q", tc.describe, got, tc.want)
		}
	}
}
