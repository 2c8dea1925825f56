package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/crypto/ssh"
)

// preferredHostKeyAlgorithms is what FetchHostKey asks for when no key is
// pinned: ed25519 first, as ssh-keyscan and OpenSSH prefer it.
var preferredHostKeyAlgorithms = []string{
	ssh.KeyAlgoED25519,
	ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
	ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256,
}

// errGotHostKey ends a key exchange once the host key is in hand.
var errGotHostKey = errors.New("host key received")

// FetchHostKey runs only the SSH key exchange with the node t describes and
// returns the host key it presents, in authorized_keys form. It needs no
// credential and trusts nothing: it is how an operator sees a key before
// deciding to pin it, so the caller must show it and ask. When t pins a key,
// the node is asked for a key of that type, so the answer compares like
// with like; a node with no key of that type is asked for any key.
func FetchHostKey(ctx context.Context, t Target, timeout time.Duration) (string, error) {
	t = sshTarget(t)
	if t.Address == "" {
		return "", newError(InvalidTarget, t, errors.New("the target has no address"))
	}
	if timeout <= 0 {
		timeout = defaultConnectTimeout
	}
	algorithms := preferredHostKeyAlgorithms
	if t.HostKey != "" {
		pinned, _, _, _, err := ssh.ParseAuthorizedKey([]byte(t.HostKey))
		if err != nil {
			return "", newError(InvalidTarget, t, fmt.Errorf("parse pinned host key: %w", err))
		}
		algorithms = algorithmsFor(pinned.Type())
	}
	key, err := fetchHostKey(ctx, t, timeout, algorithms)
	var algo *ssh.AlgorithmNegotiationError
	if errors.As(err, &algo) && t.HostKey != "" {
		key, err = fetchHostKey(ctx, t, timeout, preferredHostKeyAlgorithms)
	}
	if err != nil {
		var te *Error
		if errors.As(err, &te) {
			return "", te
		}
		if errors.As(err, &algo) {
			return "", newError(Incompatible, t, err)
		}
		return "", newError(Unreachable, t, fmt.Errorf("ssh key exchange: %w", err))
	}
	return authorizedKey(key), nil
}

// fetchHostKey dials and runs one key exchange offering algorithms.
func fetchHostKey(ctx context.Context, t Target, timeout time.Duration, algorithms []string) (ssh.PublicKey, error) {
	addr := t.Addr()
	nd := net.Dialer{Timeout: timeout}
	nc, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, newError(Unreachable, t, fmt.Errorf("connect: %w", err))
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(timeout))
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	var got ssh.PublicKey
	user := t.User
	if user == "" {
		user = "stead"
	}
	_, _, _, err = ssh.NewClientConn(nc, addr, &ssh.ClientConfig{
		User: user,
		// The callback refuses every key after recording it: the
		// connection never reaches authentication, so nothing is trusted.
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			got = k
			return errGotHostKey
		},
		HostKeyAlgorithms: algorithms,
	})
	if got != nil {
		return got, nil
	}
	if ctx.Err() != nil {
		return nil, newError(Unreachable, t, ctx.Err())
	}
	if err == nil {
		err = errors.New("the handshake ended without a host key")
	}
	return nil, err
}
