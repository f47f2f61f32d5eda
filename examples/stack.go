// Package stack is a tiny generic stack, used by the Tide demo.
package stack

// Stack holds values in last-in, first-out order.
type Stack[T any] struct {
	items []T
}

// Push adds v on top.
func (s *Stack[T]) Push(v T) {
	s.items = append(s.items, v)
}

// Len reports how many values the stack holds.
func (s *Stack[T]) Len() int {
	return len(s.items)
}
