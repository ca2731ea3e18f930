package cmq

import (
	"strings"
	"unicode/utf8"
)

// FilterType says how a topic's subscriptions select messages. It is fixed
// when the topic is created.
type FilterType int

const (
	// FilterTags (1, the default): a subscription without filter tags
	// receives every message; one with filter tags receives a message only
	// if one of its filter tags equals one of the message's tags. An
	// untagged message therefore reaches only subscriptions without filter
	// tags.
	FilterTags FilterType = 1
	// FilterRoutingKey (2): a subscription receives a message if one of
	// its binding keys matches the message's routing key, as in a RabbitMQ
	// topic exchange: keys are words separated by dots, "*" in a binding
	// key stands for exactly one word and "#" for zero or more words.
	// "1.#.0" matches "1.2.3.4.4.2.2.0", and "#" matches every key,
	// the empty one included.
	FilterRoutingKey FilterType = 2
)

// checkTags validates message or filter tags against l: at most Tags
// tags (tooMany otherwise), each 1 to TagLength characters (ErrOutOfRange
// naming param).
func (l *Limits) checkTags(tags []string, tooMany *Error, param string) error {
	if len(tags) > l.Tags {
		return tooMany
	}
	for _, t := range tags {
		if t == "" || utf8.RuneCountInString(t) > l.TagLength {
			return outOfRange(param)
		}
	}
	return nil
}

// checkKey validates a routing or binding key: at most RoutingKeyLength
// bytes (ErrOutOfRange naming param) and RoutingKeyDots dots
// (ErrDelimiters).
func (l *Limits) checkKey(key, param string) error {
	if len(key) > l.RoutingKeyLength {
		return outOfRange(param)
	}
	if strings.Count(key, ".") > l.RoutingKeyDots {
		return ErrDelimiters
	}
	return nil
}

// tagsMatch reports whether a subscription with filter tags filter takes a
// message tagged tags.
func tagsMatch(filter, tags []string) bool {
	if len(filter) == 0 {
		return true
	}
	for _, f := range filter {
		for _, t := range tags {
			if f == t {
				return true
			}
		}
	}
	return false
}

// bindingsMatch reports whether one of the binding keys matches key.
func bindingsMatch(bindings []string, key string) bool {
	for _, b := range bindings {
		if RoutingKeyMatch(b, key) {
			return true
		}
	}
	return false
}

// RoutingKeyMatch reports whether binding matches the routing key key, as
// a RabbitMQ topic exchange does: both are words separated by '.', "*"
// matches exactly one word and "#" zero or more words; other words match
// only themselves. The empty key has no words. It runs in
// O(len(binding words) × len(key words)).
func RoutingKeyMatch(binding, key string) bool {
	pat := words(binding)
	w := words(key)
	// ok[j] reports whether pat[:i] matches w[:j], row by row.
	ok := make([]bool, len(w)+1)
	ok[0] = true
	for _, p := range pat {
		if p == "#" {
			for j := 1; j <= len(w); j++ {
				ok[j] = ok[j] || ok[j-1]
			}
			continue
		}
		for j := len(w); j >= 1; j-- {
			ok[j] = ok[j-1] && (p == "*" || p == w[j-1])
		}
		ok[0] = false
	}
	return ok[len(w)]
}

// words splits a key on '.'; the empty key has no words.
func words(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ".")
}
