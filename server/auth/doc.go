// Package auth reads Mosquitto's password and ACL files and answers the questions a broker asks of
// them: may this user log in with this password, and may this client publish to, subscribe to or
// receive this topic.
//
// The formats and the decisions follow Mosquitto 2.0 (src/security_default.c, src/password_mosq.c,
// apps/mosquitto_passwd), so that a Mosquitto user can point loopmq at the files they already have and
// get the same answers. Where this package is stricter than Mosquitto (a malformed password entry is an
// error naming its line, where Mosquitto logs it and drops the user) the doc comment says so.
//
// Password checks are deliberately slow (PBKDF2, Argon2id) and must run off the event loops. ACL checks
// are on the publish path and allocate nothing once a client's Rights are compiled.
package auth
