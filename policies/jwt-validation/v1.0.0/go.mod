module github.com/policy-engine-builder/policies/jwt-validation/v1.0.0

go 1.26.0

require (
	github.com/golang-jwt/jwt/v5 v5.3.1
	github.com/policy-engine-builder/policy-engine v0.0.0-00010101000000-000000000000
)

require (
	github.com/MicahParks/jwkset v0.11.4 // indirect
	github.com/MicahParks/keyfunc/v3 v3.9.2 // indirect
	golang.org/x/time v0.15.0 // indirect
)
