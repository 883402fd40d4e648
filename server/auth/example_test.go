package auth_test

import (
	"fmt"

	"loopmq/server/auth"
)

func Example() {
	acl, err := auth.ParseACL("example.acl", []byte(`
# devices may touch only their own subtree; the dashboard reads everything under devices/
pattern readwrite devices/%u/#
user dashboard
topic read devices/#
`))
	if err != nil {
		panic(err)
	}
	device := acl.For("sensor-7", false, "client-1")
	dashboard := acl.For("dashboard", false, "client-2")
	fmt.Println(device.CanPublish([]byte("devices/sensor-7/temp")))
	fmt.Println(device.CanPublish([]byte("devices/sensor-8/temp")))
	fmt.Println(dashboard.CanRead([]byte("devices/sensor-8/temp")))
	fmt.Println(dashboard.CanPublish([]byte("devices/sensor-8/temp")))
	// Output:
	// true
	// false
	// true
	// false
}

func ExamplePasswords_Check() {
	pw, err := auth.LoadPasswordFile("testdata/mosquitto_passwd.pwfile") // made by mosquitto_passwd
	if err != nil {
		panic(err)
	}
	fmt.Println(pw.Check("alice", []byte("alice-secret")), pw.Check("alice", []byte("guess")))
	// Output: true false
}
