package ops_test

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/stn3d/stn3d/ops"
)

// Sampling a 2x3 image between pixel centres and half a pixel outside it.
func ExampleBilinearSample() {
	g := gorgonia.NewGraph()
	img := gorgonia.NewTensor(g, tensor.Float64, 4, gorgonia.WithShape(1, 1, 2, 3), gorgonia.WithName("img"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(1, 1, 2, 3), tensor.WithBacking([]float64{1, 2, 3, 4, 5, 6}))))
	pts := gorgonia.NewTensor(g, tensor.Float64, 3, gorgonia.WithShape(1, 3, 2), gorgonia.WithName("pts"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(1, 3, 2), tensor.WithBacking([]float64{0.5, 0.5, 2, 1, -0.5, 0}))))
	out, err := ops.BilinearSample(img, pts)
	if err != nil {
		fmt.Println(err)
		return
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%.2f\n", out.Value().Data())
	// Output: [3.00 6.00 0.50]
}

// A quarter turn about the model y axis maps +z (towards the viewer) to +x.
func ExampleAxisAngleToRotation() {
	g := gorgonia.NewGraph()
	r := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(1, 3), gorgonia.WithName("r"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(1, 3), tensor.WithBacking([]float64{0, math.Pi / 2, 0}))))
	R, err := ops.AxisAngleToRotation(r)
	if err != nil {
		fmt.Println(err)
		return
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		fmt.Println(err)
		return
	}
	v := R.Value().Data().([]float64)
	for i := 0; i < 3; i++ {
		fmt.Printf("%5.2f %5.2f %5.2f\n", v[3*i]+0, v[3*i+1]+0, v[3*i+2]+0)
	}
	// Output:
	//  0.00  0.00  1.00
	//  0.00  1.00  0.00
	// -1.00  0.00  0.00
}
