package mask

import "testing"

// TestNameConventions pins which names the built-in name rules treat as
// secret, across naming styles, and which look-alikes they leave alone.
func TestNameConventions(t *testing.T) {
	m := Default()
	sc := &scratch{}
	params := map[string]bool{
		"password": true, "Password": true, "new_password": true, "userPassword": true, "PASSWORD_HASH": true,
		"passwd": true, "secret": true, "client_secret": true, "secretKey": true, "AWS_SECRET_ACCESS_KEY": true,
		"token": true, "access_token": true, "refreshToken": true, "id-token": true, "X-CSRF-Token": true, "token_type": true,
		"api_key": true, "apiKey": true, "x-api-key": true, "APIKEY": true,
		"ssn": true, "user_ssn": true, "ssnLast4": true,
		"card": true, "card_number": true, "creditCard": true, "CARD": true, "pan": true,
		"cvv": true, "cvc": true, "card_cvv2": true, "user[password]": true,
		"max_tokens": false, "tokens": false, "tokenizer": false, "discard": false, "cards": false, "classname": false,
		"span": false, "company": false, "rapid": false, "name": false, "id": false, "pass": false, "": false,
	}
	for name, want := range params {
		if got := m.secretParam(sc, []byte(name), false); got != want {
			t.Errorf("param %q: secret=%v, want %v", name, got, want)
		}
		// The memo must give the same answer the second time.
		if got := m.secretParam(sc, []byte(name), false); got != want {
			t.Errorf("param %q (cached): secret=%v, want %v", name, got, want)
		}
	}
	headers := map[string]bool{
		"Authorization": true, "proxy-authorization": true, "Cookie": true, "SET-COOKIE": true,
		"X-Api-Key": true, "x-auth-token": true, "X-Amz-Security-Token": true, "X-Hub-Secret": true,
		"X-Password": true, "Api-Key": true,
		"Accept": false, "Content-Type": false, "X-Request-Id": false, "Cookie2x": false, "Authorization-Info": false,
	}
	for name, want := range headers {
		if got := m.secretHeader([]byte(name)); got != want {
			t.Errorf("header %q: secret=%v, want %v", name, got, want)
		}
	}
}

func TestLuhn(t *testing.T) {
	for s, want := range map[string]bool{
		"4111111111111111": true, "5500000000000004": true, "378282246310005": true, "6011111111111117": true,
		"4111111111111112": false, "1234567812345678": false,
	} {
		if got := luhn([]byte(s)); got != want {
			t.Errorf("luhn(%s) = %v", s, got)
		}
	}
}
